"""mmdetection 3.3.0's ``MaxIoUAssigner`` on chunked IoU blocks (reference-semantics C.5)."""
from __future__ import annotations

import numpy as np

from samplegen.anchors.assign.overlaps import (BoxOverlaps, ChunkedOverlaps, MatrixOverlaps, OverlapStats,
                                               chunk_size_for, ignored_priors)
from samplegen.anchors.assign.windows import GridLevel, WindowedOverlaps
from samplegen.anchors.assign.result import Assignment, empty_assignment, with_labels
from samplegen.anchors.config import MaxIoUParams
from samplegen.anchors.labels import IGNORE, NEGATIVE
from samplegen.boxes import iou


def _negative_mask(max_iou: np.ndarray, neg_iou_thr: float | tuple[float, float]) -> np.ndarray:
    if isinstance(neg_iou_thr, tuple):
        return (max_iou >= np.float32(neg_iou_thr[0])) & (max_iou < np.float32(neg_iou_thr[1]))
    return (max_iou >= 0) & (max_iou < np.float32(neg_iou_thr))


def assign_max_iou(priors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                   ignore_boxes: np.ndarray, params: MaxIoUParams, chunk: int | None = None,
                   grid: tuple[GridLevel, ...] | None = None, exact_max_iou: bool = True) -> Assignment:
    """mmdetection 3.3.0 ``MaxIoUAssigner.assign`` on one image (reference-semantics C.5).

    Steps, numbered as in mmdet's ``assign_wrt_overlaps``:

    1. ``O = IoU(gt, priors)`` in float32 (mmdet's operation order).
    2. Ignore regions (only if ``ignore_iof_thr > 0``): priors whose max IoF is strictly above the
       threshold get ``O[:, j] = -1``, so they stay IGNORE.
    3.-4. Everything starts IGNORE; with no GT every prior is NEGATIVE (max_iou 0); with no prior
       the result is empty.
    5. Per prior: max and first argmax over GTs. Per GT: max and first argmax over priors.
    6. ``0 <= max_iou < neg_iou_thr`` (or ``lo <= max_iou < hi`` for a pair) -> NEGATIVE.
    7. ``max_iou >= pos_iou_thr`` -> argmax + 1.
    8. Low quality (``match_low_quality``): for GT i = 0..G-1 in order, if ``gt_max[i] >=
       min_pos_iou``, every prior with ``O[i, j] == gt_max[i]`` (``gt_max_assign_all``) or only
       ``gt_argmax[i]`` gets i + 1; the later GT wins and step 7 is overwritten.
    9. Labels of positives are ``gt_labels[assigned_gt - 1]``.

    Example (C.5): ``O = [[.6, .65, .1, 0], [.5, .2, .1, 0]]`` with (0.7, 0.3, min_pos 0.3) gives
    ``[2, 1, 0, 0]``: prior 0 is GT 1's best, prior 1 GT 0's.

    Args:
        priors: float32 [N, 4] anchors or proposals.
        gt_boxes: float32 [G, 4]; gt_labels: int [G].
        ignore_boxes: float32 [M, 4] ignore regions (crowd / difficult), used per step 2.
        params: thresholds and switches.
        chunk: priors per IoU block (default `chunk_size_for(G)`); results do not depend on it.
        grid: the priors' levels (`windows.prior_grid`): IoU is then computed only in each GT's
            window of cells (`windows.WindowedOverlaps`); results do not depend on it either.
        exact_max_iou: False (with `grid`) lets the windows skip pairs whose IoU cannot reach
            ``min(neg_iou_thr, pos_iou_thr)`` (``prune_below``): the assignment is the same, and
            ``max_iou`` is exact at the positives and wherever it reaches that bound, a lower
            bound elsewhere (what labelling without a stored ``max_iou`` needs).

    Returns:
        `Assignment` with int32 assigned_gt / labels and float32 max_iou, all [N].
    """
    num_gts, num = len(gt_boxes), len(priors)
    if num_gts == 0 or num == 0:
        return empty_assignment(num, num_gts)
    ignored = ignored_priors(priors, ignore_boxes, params.ignore_iof_thr, params.ignore_wrt_candidates)
    if grid is not None:
        prune = 0.0 if exact_max_iou else prune_bound(params)
        windowed = WindowedOverlaps(gt_boxes, grid, num, ignored, prune)
        stats = windowed.stats()
        if windowed.usable(stats):
            result = _max_iou_rule(windowed, stats, np.asarray(gt_labels), params)
            return _exact_at_positives(result, priors, gt_boxes, ignored, prune) if prune > 0 else result
    chunked = ChunkedOverlaps(BoxOverlaps(gt_boxes, priors, ignored), chunk or chunk_size_for(num_gts))
    return _max_iou_rule(chunked, chunked.stats(), np.asarray(gt_labels), params)


def prune_bound(params: MaxIoUParams) -> float:
    """The IoU below which a pair cannot change a MaxIoU assignment: under both the negative
    bound (the pair's lower end, which then must be 0) and the positive threshold."""
    neg = params.neg_iou_thr
    low = neg[0] if isinstance(neg, tuple) else neg
    return float(min(low, params.pos_iou_thr))


def _exact_at_positives(result: Assignment, priors: np.ndarray, gt_boxes: np.ndarray, ignored: np.ndarray,
                        prune: float) -> Assignment:
    """max_iou recomputed over every GT at the positives whose pruned max is under `prune` (the
    low-quality ones): the stored ``pos_max_iou`` is then exact."""
    pos = np.flatnonzero((result.assigned_gt >= 1) & (result.max_iou < np.float32(prune)))
    if len(pos):
        exact = iou(gt_boxes, priors[pos]).max(axis=0)
        result.max_iou[pos] = np.where(ignored[pos], np.float32(-1), exact)
    return result


def assign_wrt_overlaps(overlaps: np.ndarray, gt_labels: np.ndarray, params: MaxIoUParams) -> Assignment:
    """Steps 3-9 of `assign_max_iou` on a given float32 overlap matrix [G, N] (mmdet's
    ``assign_wrt_overlaps``; ignored columns must already be -1). For tests and small inputs."""
    num_gts, num = overlaps.shape
    if num_gts == 0 or num == 0:
        return empty_assignment(num, num_gts)
    chunked = ChunkedOverlaps(MatrixOverlaps(np.asarray(overlaps, np.float32)), num)
    return _max_iou_rule(chunked, chunked.stats(), np.asarray(gt_labels), params)


def _max_iou_rule(overlaps, stats: OverlapStats, gt_labels: np.ndarray, params: MaxIoUParams) -> Assignment:
    """Steps 6-9 on the pass-1 `stats` of `overlaps` (chunked or windowed)."""
    assigned = np.full(overlaps.shape[1], IGNORE, dtype=np.int64)
    assigned[_negative_mask(stats.max_iou, params.neg_iou_thr)] = NEGATIVE
    pos = stats.max_iou >= np.float32(params.pos_iou_thr)
    assigned[pos] = stats.argmax[pos] + 1
    if params.match_low_quality:
        qualified = stats.gt_max >= np.float32(params.min_pos_iou)
        if params.gt_max_assign_all:
            hits = overlaps.last_gt_at_max(stats, qualified)
            assigned[hits >= 0] = hits[hits >= 0] + 1
        else:
            for i in np.flatnonzero(qualified):        # sequential: a later GT overwrites
                assigned[stats.gt_argmax[i]] = i + 1
    return with_labels(assigned, stats.max_iou, gt_labels)
