"""torchvision's ``Matcher`` and ``SSDMatcher``, translated to mmdetection's codes (``compat: torchvision``)."""
from __future__ import annotations

import numpy as np

from samplegen.anchors.assign.overlaps import (BoxOverlaps, ChunkedOverlaps, MatrixOverlaps, OverlapStats,
                                               chunk_size_for)
from samplegen.anchors.assign.windows import GridLevel, WindowedOverlaps
from samplegen.anchors.assign.result import Assignment, empty_assignment, with_labels
from samplegen.anchors.labels import IGNORE, NEGATIVE


def assign_tv_matcher(priors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                      high: float, low: float, allow_low_quality: bool,
                      chunk: int | None = None, grid: tuple[GridLevel, ...] | None = None) -> Assignment:
    """torchvision ``Matcher(high, low, allow_low_quality_matches)``, translated to mmdet codes.

    Native codes: first argmax k, BELOW_LOW_THRESHOLD (-1) for ``max < low``, BETWEEN_THRESHOLDS
    (-2) for ``low <= max < high``; the low-quality step gives every prior equal to some GT's max
    (at any value, no minimum) back **its own** argmax. Translation: k -> k + 1, below-low ->
    NEGATIVE, between -> IGNORE. No GT: every prior NEGATIVE (what the RPN, RetinaNet, SSD and
    FCOS callers do). IoU values equal mmdet's (same order; torchvision has no 1e-6 clamp, which
    only matters for zero-area unions). `grid`: see `assign_max_iou`.
    """
    num_gts, num = len(gt_boxes), len(priors)
    if num_gts == 0 or num == 0:
        return empty_assignment(num, num_gts)
    overlaps, stats = _overlaps(priors, gt_boxes, chunk, grid)
    return _tv_matcher_rule(overlaps, stats, np.asarray(gt_labels), high, low, allow_low_quality)


def _overlaps(priors: np.ndarray, gt_boxes: np.ndarray, chunk: int | None,
              grid: tuple[GridLevel, ...] | None) -> tuple[object, OverlapStats]:
    """The windowed overlaps of grid priors where they give the full matrix's answers, else chunked."""
    ignored = np.zeros(len(priors), dtype=bool)
    if grid is not None:
        windowed = WindowedOverlaps(gt_boxes, grid, len(priors), ignored)
        stats = windowed.stats()
        if windowed.usable(stats):
            return windowed, stats
    chunked = ChunkedOverlaps(BoxOverlaps(gt_boxes, priors, ignored), chunk or chunk_size_for(len(gt_boxes)))
    return chunked, chunked.stats()


def _tv_matcher_rule(overlaps, stats: OverlapStats, gt_labels: np.ndarray, high: float, low: float,
                     allow_low_quality: bool) -> Assignment:
    assigned = stats.argmax + 1
    assigned[stats.max_iou < np.float32(high)] = IGNORE
    assigned[stats.max_iou < np.float32(low)] = NEGATIVE
    if allow_low_quality:
        hits = overlaps.last_gt_at_max(stats, np.ones(overlaps.shape[0], dtype=bool)) >= 0
        assigned[hits] = stats.argmax[hits] + 1
    return with_labels(assigned, stats.max_iou, gt_labels)


def tv_match_wrt_overlaps(overlaps: np.ndarray, gt_labels: np.ndarray, high: float, low: float,
                          allow_low_quality: bool) -> Assignment:
    """`assign_tv_matcher` on a given float32 overlap matrix [G, N]. For tests and small inputs."""
    num_gts, num = overlaps.shape
    if num_gts == 0 or num == 0:
        return empty_assignment(num, num_gts)
    chunked = ChunkedOverlaps(MatrixOverlaps(np.asarray(overlaps, np.float32)), num)
    return _tv_matcher_rule(chunked, chunked.stats(), np.asarray(gt_labels), high, low, allow_low_quality)


def assign_tv_ssd_matcher(priors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                          threshold: float, chunk: int | None = None,
                          grid: tuple[GridLevel, ...] | None = None) -> Assignment:
    """torchvision ``SSDMatcher(threshold)``: ``Matcher(t, t, False)``, then each GT's first
    best prior is forced to that GT (a later GT overwrites a shared prior), in mmdet codes."""
    if len(gt_boxes) == 0 or len(priors) == 0:
        return empty_assignment(len(priors), len(gt_boxes))
    overlaps, stats = _overlaps(priors, gt_boxes, chunk, grid)
    base = _tv_matcher_rule(overlaps, stats, np.asarray(gt_labels), threshold, threshold, False)
    assigned = base.assigned_gt.astype(np.int64)
    for i, j in enumerate(stats.gt_argmax):
        assigned[j] = i + 1
    return with_labels(assigned, stats.max_iou, np.asarray(gt_labels))
