"""torchvision's ``Matcher`` and ``SSDMatcher``, translated to mmdetection's codes (``compat: torchvision``)."""
from __future__ import annotations

import numpy as np

from samplegen.anchors.assign.overlaps import BoxOverlaps, chunk_size_for, last_gt_at_max, overlap_stats, MatrixOverlaps
from samplegen.anchors.assign.result import Assignment, empty_assignment, with_labels
from samplegen.anchors.labels import IGNORE, NEGATIVE


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
        return empty_assignment(num, num_gts)
    source = BoxOverlaps(gt_boxes, priors, np.zeros(num, dtype=bool))
    return _tv_matcher_rule(source, np.asarray(gt_labels), high, low, allow_low_quality,
                            chunk or chunk_size_for(num_gts))


def _tv_matcher_rule(source, gt_labels: np.ndarray, high: float, low: float, allow_low_quality: bool,
                     chunk: int) -> Assignment:
    stats = overlap_stats(source, chunk)
    assigned = stats.argmax + 1
    assigned[stats.max_iou < np.float32(high)] = IGNORE
    assigned[stats.max_iou < np.float32(low)] = NEGATIVE
    if allow_low_quality:
        hits = last_gt_at_max(source, stats, np.ones(source.shape[0], dtype=bool)) >= 0
        assigned[hits] = stats.argmax[hits] + 1
    return with_labels(assigned, stats.max_iou, gt_labels)


def tv_match_wrt_overlaps(overlaps: np.ndarray, gt_labels: np.ndarray, high: float, low: float,
                          allow_low_quality: bool) -> Assignment:
    """`assign_tv_matcher` on a given float32 overlap matrix [G, N]. For tests and small inputs."""
    num_gts, num = overlaps.shape
    if num_gts == 0 or num == 0:
        return empty_assignment(num, num_gts)
    return _tv_matcher_rule(MatrixOverlaps(np.asarray(overlaps, np.float32)), np.asarray(gt_labels),
                            high, low, allow_low_quality, num)


def assign_tv_ssd_matcher(priors: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                          threshold: float, chunk: int | None = None) -> Assignment:
    """torchvision ``SSDMatcher(threshold)``: ``Matcher(t, t, False)``, then each GT's first
    best prior is forced to that GT (a later GT overwrites a shared prior), in mmdet codes."""
    base = assign_tv_matcher(priors, gt_boxes, gt_labels, threshold, threshold, False, chunk)
    if len(gt_boxes) == 0 or len(priors) == 0:
        return base
    source = BoxOverlaps(gt_boxes, priors, np.zeros(len(priors), dtype=bool))
    stats = overlap_stats(source, chunk or chunk_size_for(len(gt_boxes)))
    assigned = base.assigned_gt.astype(np.int64)
    for i, j in enumerate(stats.gt_argmax):
        assigned[j] = i + 1
    return with_labels(assigned, stats.max_iou, np.asarray(gt_labels))
