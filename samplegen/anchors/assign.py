"""IoU-based assigners: mmdetection's MaxIoUAssigner and torchvision's Matcher / SSDMatcher.

Both work on the IoU matrix ``O = IoU(gt, priors)`` (G x N, float32, `samplegen.boxes.iou`) but
never hold it whole: priors are processed in chunks of at most `CHUNK_ELEMENTS / G` (and
`MAX_CHUNK`) columns, so an FPN image (268k anchors) with 100 boxes needs tens of megabytes, not
gigabytes. Within a chunk only GTs that touch the chunk's bounding box are computed; the others
have IoU exactly +0.0, so the result is bit-identical to the full matrix.

Pass 1 computes, per prior, the max IoU and its first argmax, and per GT the max over all priors
(first argmax) together with the max inside every chunk. The low-quality step needs, per GT, every
prior whose IoU equals the GT's global max; pass 2 recomputes only the (chunk, GT) blocks whose
chunk max equals that global max, so on real images it touches a handful of chunks.

The result is an `Assignment` in mmdetection's encoding (`samplegen.anchors.labels`). FCOS points
are assigned in `samplegen.anchors.assign_points`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samplegen.anchors.config import MaxIoUParams
from samplegen.anchors.labels import IGNORE, NEGATIVE, NO_LABEL
from samplegen.boxes import iof, iou

CHUNK_ELEMENTS = 1 << 20  # IoU entries per chunk: ~32 MB of float32 temporaries in boxes.iou
MIN_CHUNK = 256          # blocks stay within CHUNK_ELEMENTS up to 4,096 GTs (WIDER peaks at 1,968)
MAX_CHUNK = 8192          # short chunks are narrow bands, so most GTs skip them (`_touching`)


@dataclass(frozen=True)
class Assignment:
    """Per-prior assignment result (mmdetection ``AssignResult``).

    Attributes:
        assigned_gt: int32 [N]; NEGATIVE (0), IGNORE (-1) or k + 1 for GT k.
        max_iou: float32 [N]; each prior's max IoU over the GTs (-1 where an ignore region
            removed the column, 0 everywhere when there is no GT).
        labels: int32 [N]; the matched GT's class for positives, NO_LABEL elsewhere.
    """

    assigned_gt: np.ndarray
    max_iou: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class _Overlaps:
    """Pass-1 statistics of the chunked IoU matrix."""

    max_iou: np.ndarray        # float32 [N]
    argmax: np.ndarray         # int64 [N], first GT on ties
    gt_max: np.ndarray         # float32 [G]
    gt_argmax: np.ndarray      # int64 [G], first prior on ties
    chunk_gt_max: np.ndarray   # float32 [C, G]
    chunk_size: int


def chunk_size_for(num_gts: int) -> int:
    """Priors per chunk so that one chunk's IoU block holds about `CHUNK_ELEMENTS` entries."""
    return min(MAX_CHUNK, max(MIN_CHUNK, CHUNK_ELEMENTS // max(num_gts, 1)))


def ignored_priors(priors: np.ndarray, ignore_boxes: np.ndarray, thr: float, wrt_candidates: bool) -> np.ndarray:
    """bool [N]: priors whose max IoF with an ignore box is **strictly** above `thr` (C.5 step 2).

    IoF is ``inter / area(prior)`` (mmdet ``ignore_wrt_candidates=True``) or ``inter /
    area(ignore box)``. Off (all False) when ``thr <= 0`` or there are no ignore boxes.
    """
    if thr <= 0 or len(ignore_boxes) == 0 or len(priors) == 0:
        return np.zeros(len(priors), dtype=bool)
    if wrt_candidates:
        return iof(priors, ignore_boxes).max(axis=1) > thr
    return iof(ignore_boxes, priors).max(axis=0) > thr


class _BoxOverlaps:
    """IoU blocks ``O[rows, start:stop]`` computed on demand from boxes; ignored columns -1."""

    def __init__(self, gt_boxes: np.ndarray, priors: np.ndarray, ignored: np.ndarray):
        self.gt_boxes, self.priors, self.ignored = gt_boxes, priors, ignored
        self.shape = (len(gt_boxes), len(priors))

    def block(self, rows: np.ndarray | slice, start: int, stop: int) -> np.ndarray:
        gts, priors = self.gt_boxes[rows], self.priors[start:stop]
        out = np.zeros((len(gts), len(priors)), dtype=np.float32)
        near = _touching(gts, priors)
        if near.all():
            out[:] = iou(gts, priors)
        elif near.any():
            out[near] = iou(gts[near], priors)
        out[:, self.ignored[start:stop]] = -1
        return out


def _touching(gts: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """bool [G]: GTs that may intersect a prior of the block (its bounding box).

    A GT outside the block's bounding box has ``inter = 0`` with every prior of the block, so its
    IoU row is exactly +0.0; skipping it keeps results bit-identical. Priors are row-major per
    level, so a chunk is a horizontal band and most GTs are skipped.
    """
    if len(priors) == 0:
        return np.zeros(len(gts), dtype=bool)
    x1, y1 = priors[:, 0].min(), priors[:, 1].min()
    x2, y2 = priors[:, 2].max(), priors[:, 3].max()
    return (gts[:, 0] < x2) & (gts[:, 2] > x1) & (gts[:, 1] < y2) & (gts[:, 3] > y1)


class _MatrixOverlaps:
    """Blocks of a given G x N overlap matrix (for `assign_wrt_overlaps`)."""

    def __init__(self, overlaps: np.ndarray):
        self.overlaps = overlaps
        self.shape = overlaps.shape

    def block(self, rows: np.ndarray | slice, start: int, stop: int) -> np.ndarray:
        return self.overlaps[rows, start:stop]


def _overlap_stats(source, chunk: int) -> _Overlaps:
    num_gts, num = source.shape
    max_iou = np.empty(num, dtype=np.float32)
    argmax = np.empty(num, dtype=np.int64)
    gt_max = np.full(num_gts, -np.inf, dtype=np.float32)
    gt_argmax = np.zeros(num_gts, dtype=np.int64)
    starts = range(0, num, chunk)
    chunk_gt_max = np.empty((len(starts), num_gts), dtype=np.float32)
    for c, start in enumerate(starts):
        stop = min(start + chunk, num)
        block = source.block(slice(None), start, stop)
        argmax[start:stop] = block.argmax(axis=0)
        max_iou[start:stop] = block[argmax[start:stop], np.arange(stop - start)]
        local_arg = block.argmax(axis=1)
        local_max = block[np.arange(num_gts), local_arg]
        better = local_max > gt_max            # strict: an earlier chunk keeps the tie
        gt_max[better] = local_max[better]
        gt_argmax[better] = local_arg[better] + start
        chunk_gt_max[c] = local_max
    return _Overlaps(max_iou, argmax, gt_max, gt_argmax, chunk_gt_max, chunk)


def _last_gt_at_max(source, stats: _Overlaps, qualified: np.ndarray) -> np.ndarray:
    """int64 [N]: the last qualified GT i with ``O[i, j] == gt_max[i]`` for prior j, or -1.

    Only (chunk, GT) blocks whose chunk max reaches the GT's global max are recomputed.
    """
    num = source.shape[1]
    hits = np.full(num, -1, dtype=np.int64)
    reach = (stats.chunk_gt_max == stats.gt_max[None, :]) & qualified[None, :]
    for c in np.flatnonzero(reach.any(axis=1)):
        rows = np.flatnonzero(reach[c])
        start = c * stats.chunk_size
        stop = min(start + stats.chunk_size, num)
        block = source.block(rows, start, stop)
        equal = block == stats.gt_max[rows][:, None]
        any_hit = equal.any(axis=0)
        last = len(rows) - 1 - equal[::-1].argmax(axis=0)
        hits[start:stop][any_hit] = rows[last[any_hit]]
    return hits


def _empty_result(num: int, num_gts: int) -> Assignment:
    fill = NEGATIVE if num_gts == 0 else IGNORE
    return Assignment(np.full(num, fill, dtype=np.int32), np.zeros(num, dtype=np.float32),
                      np.full(num, NO_LABEL, dtype=np.int32))


def _with_labels(assigned: np.ndarray, max_iou: np.ndarray, gt_labels: np.ndarray) -> Assignment:
    labels = np.full(len(assigned), NO_LABEL, dtype=np.int32)
    pos = assigned > 0
    labels[pos] = gt_labels[assigned[pos] - 1]
    return Assignment(assigned.astype(np.int32), max_iou, labels)


def _negative_mask(max_iou: np.ndarray, neg_iou_thr: float | tuple[float, float]) -> np.ndarray:
    if isinstance(neg_iou_thr, tuple):
        return (max_iou >= np.float32(neg_iou_thr[0])) & (max_iou < np.float32(neg_iou_thr[1]))
    return (max_iou >= 0) & (max_iou < np.float32(neg_iou_thr))


def assign_max_iou(priors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                   ignore_boxes: np.ndarray, params: MaxIoUParams, chunk: int | None = None) -> Assignment:
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

    Returns:
        `Assignment` with int32 assigned_gt / labels and float32 max_iou, all [N].
    """
    num_gts, num = len(gt_boxes), len(priors)
    if num_gts == 0 or num == 0:
        return _empty_result(num, num_gts)
    ignored = ignored_priors(priors, ignore_boxes, params.ignore_iof_thr, params.ignore_wrt_candidates)
    source = _BoxOverlaps(gt_boxes, priors, ignored)
    return _max_iou_rule(source, np.asarray(gt_labels), params, chunk or chunk_size_for(num_gts))


def assign_wrt_overlaps(overlaps: np.ndarray, gt_labels: np.ndarray, params: MaxIoUParams) -> Assignment:
    """Steps 3-9 of `assign_max_iou` on a given float32 overlap matrix [G, N] (mmdet's
    ``assign_wrt_overlaps``; ignored columns must already be -1). For tests and small inputs."""
    num_gts, num = overlaps.shape
    if num_gts == 0 or num == 0:
        return _empty_result(num, num_gts)
    return _max_iou_rule(_MatrixOverlaps(np.asarray(overlaps, np.float32)), np.asarray(gt_labels), params, num)


def _max_iou_rule(source, gt_labels: np.ndarray, params: MaxIoUParams, chunk: int) -> Assignment:
    stats = _overlap_stats(source, chunk)
    assigned = np.full(source.shape[1], IGNORE, dtype=np.int64)
    assigned[_negative_mask(stats.max_iou, params.neg_iou_thr)] = NEGATIVE
    pos = stats.max_iou >= np.float32(params.pos_iou_thr)
    assigned[pos] = stats.argmax[pos] + 1
    if params.match_low_quality:
        qualified = stats.gt_max >= np.float32(params.min_pos_iou)
        if params.gt_max_assign_all:
            hits = _last_gt_at_max(source, stats, qualified)
            assigned[hits >= 0] = hits[hits >= 0] + 1
        else:
            for i in np.flatnonzero(qualified):        # sequential: a later GT overwrites
                assigned[stats.gt_argmax[i]] = i + 1
    return _with_labels(assigned, stats.max_iou, gt_labels)


def assign_tv_matcher(priors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                      high: float, low: float, allow_low_quality: bool,
                      chunk: int | None = None) -> Assignment:
    """torchvision ``Matcher(high, low, allow_low_quality_matches)``, translated to mmdet codes.

    Native codes: first argmax k, BELOW_LOW_THRESHOLD (-1) for ``max < low``, BETWEEN_THRESHOLDS
    (-2) for ``low <= max < high``; the low-quality step gives every prior equal to some GT's max
    (at any value, no minimum) back **its own** argmax. Translation: k -> k + 1, below-low ->
    NEGATIVE, between -> IGNORE. No GT: every prior NEGATIVE (what the RPN, RetinaNet, SSD and
    FCOS callers do). IoU values equal mmdet's (same order; torchvision has no 1e-6 clamp, which
    only matters for zero-area unions).
    """
    num_gts, num = len(gt_boxes), len(priors)
    if num_gts == 0 or num == 0:
        return _empty_result(num, num_gts)
    source = _BoxOverlaps(gt_boxes, priors, np.zeros(num, dtype=bool))
    return _tv_matcher_rule(source, np.asarray(gt_labels), high, low, allow_low_quality,
                            chunk or chunk_size_for(num_gts))


def _tv_matcher_rule(source, gt_labels: np.ndarray, high: float, low: float, allow_low_quality: bool,
                     chunk: int) -> Assignment:
    stats = _overlap_stats(source, chunk)
    assigned = stats.argmax + 1
    assigned[stats.max_iou < np.float32(high)] = IGNORE
    assigned[stats.max_iou < np.float32(low)] = NEGATIVE
    if allow_low_quality:
        hits = _last_gt_at_max(source, stats, np.ones(source.shape[0], dtype=bool)) >= 0
        assigned[hits] = stats.argmax[hits] + 1
    return _with_labels(assigned, stats.max_iou, gt_labels)


def tv_match_wrt_overlaps(overlaps: np.ndarray, gt_labels: np.ndarray, high: float, low: float,
                          allow_low_quality: bool) -> Assignment:
    """`assign_tv_matcher` on a given float32 overlap matrix [G, N]. For tests and small inputs."""
    num_gts, num = overlaps.shape
    if num_gts == 0 or num == 0:
        return _empty_result(num, num_gts)
    return _tv_matcher_rule(_MatrixOverlaps(np.asarray(overlaps, np.float32)), np.asarray(gt_labels),
                            high, low, allow_low_quality, num)


def assign_tv_ssd_matcher(priors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                          threshold: float, chunk: int | None = None) -> Assignment:
    """torchvision ``SSDMatcher(threshold)``: ``Matcher(t, t, False)``, then each GT's first
    best prior is forced to that GT (a later GT overwrites a shared prior), in mmdet codes."""
    base = assign_tv_matcher(priors, gt_boxes, gt_labels, threshold, threshold, False, chunk)
    if len(gt_boxes) == 0 or len(priors) == 0:
        return base
    source = _BoxOverlaps(gt_boxes, priors, np.zeros(len(priors), dtype=bool))
    stats = _overlap_stats(source, chunk or chunk_size_for(len(gt_boxes)))
    assigned = base.assigned_gt.astype(np.int64)
    for i, j in enumerate(stats.gt_argmax):
        assigned[j] = i + 1
    return _with_labels(assigned, stats.max_iou, np.asarray(gt_labels))
