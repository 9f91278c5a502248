"""Point assigners: mmdetection's ``FCOSHead.get_targets`` and torchvision's FCOS matching.

Both compare every point with every GT box, so points are processed in chunks (at most
`IOU_BLOCK_ELEMENTS / 4G` points; GTs that cannot contain a point of the chunk are skipped, exactly);
each point's result depends on its own row only. The
result is an `Assignment` in mmdetection's encoding (``max_iou`` is not defined for points and
is returned as an empty array).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from samplegen.anchors.assign.overlaps import MAX_CHUNK, MIN_CHUNK
from samplegen.anchors.assign.result import Assignment, with_labels
from samplegen.boxes import IOU_BLOCK_ELEMENTS
from samplegen.anchors.labels import NEGATIVE

FCOS_INF = np.float32(1e8)  # mmdet fcos_head.INF; also torchvision's "1e8 - area"
TV_MIN_MATCH = np.float32(1e-5)


def per_point(values: Sequence[float] | np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Repeat one value (or row) per level over that level's points: [N] or [N, k]."""
    return np.repeat(np.asarray(values, dtype=np.float32), counts, axis=0)


def _ltrb(points: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """float32 [n, G, 4]: ``(px - x1, py - y1, x2 - px, y2 - py)`` (mmdet's left/top/right/bottom)."""
    xs, ys = points[:, 0:1], points[:, 1:2]
    return np.stack([xs - gt_boxes[None, :, 0], ys - gt_boxes[None, :, 1],
                     gt_boxes[None, :, 2] - xs, gt_boxes[None, :, 3] - ys], axis=-1)


def _centre_inside(points: np.ndarray, gt_boxes: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """bool [n, G]: point strictly inside the GT clipped to ``centre +- radius`` (mmdet order)."""
    two = np.float32(2)
    cx = (gt_boxes[:, 0] + gt_boxes[:, 2]) / two
    cy = (gt_boxes[:, 1] + gt_boxes[:, 3]) / two
    r = radius[:, None]
    x_min = np.where(cx - r > gt_boxes[:, 0], cx - r, gt_boxes[:, 0])
    y_min = np.where(cy - r > gt_boxes[:, 1], cy - r, gt_boxes[:, 1])
    x_max = np.where(cx + r > gt_boxes[:, 2], gt_boxes[:, 2], cx + r)
    y_max = np.where(cy + r > gt_boxes[:, 3], gt_boxes[:, 3], cy + r)
    xs, ys = points[:, 0:1], points[:, 1:2]
    dist = np.stack([xs - x_min, ys - y_min, x_max - xs, y_max - ys], axis=-1)
    return dist.min(axis=-1) > 0


def assign_fcos(points: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                regress_ranges: np.ndarray, radius: np.ndarray | None) -> Assignment:
    """mmdetection 3.3.0 ``FCOSHead._get_targets_single`` (reference-semantics C.8).

    For point p and GT g, in float32: ``l, t, r, b = px - x1, py - y1, x2 - px, y2 - py``;
    inside = ``min(l, t, r, b) > 0``, or with centre sampling (`radius` given, = stride * 1.5 per
    point) strictly inside ``[max(cx - R, x1), max(cy - R, y1), min(cx + R, x2), min(cy + R, y2)]``;
    in range = ``lo <= max(l, t, r, b) <= hi`` (inclusive). The area ``(x2 - x1)(y2 - y1)`` becomes
    1e8 where either test fails; the point takes the GT of smallest area (first on ties) and is
    background (NEGATIVE) when that minimum is 1e8. FCOS has no ignore state.

    Args:
        points: float32 [N, 2]; gt_boxes: float32 [G, 4]; gt_labels: int [G].
        regress_ranges: float32 [N, 2] (lo, hi) of each point's level (`per_point`).
        radius: float32 [N] centre-sampling radius of each point's level, or None for off.

    Returns:
        `Assignment`: assigned_gt int32 [N] (NEGATIVE or k + 1), labels int32 [N], max_iou empty.
    """
    num, num_gts = len(points), len(gt_boxes)
    assigned = np.full(num, NEGATIVE, dtype=np.int64)
    if num_gts and num:
        areas = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
        for sl in _chunks(num, num_gts):
            near = _containing(gt_boxes, points[sl])
            if near.any():
                best = _fcos_chunk(points[sl], gt_boxes[near], areas[near], regress_ranges[sl],
                                   None if radius is None else radius[sl])
                assigned[sl] = np.where(best >= 0, np.flatnonzero(near)[np.maximum(best, 0)] + 1, NEGATIVE)
    return _result(assigned, np.asarray(gt_labels))


def _fcos_chunk(points: np.ndarray, gt_boxes: np.ndarray, areas: np.ndarray,
                ranges: np.ndarray, radius: np.ndarray | None) -> np.ndarray:
    ltrb = _ltrb(points, gt_boxes)
    inside = _centre_inside(points, gt_boxes, radius) if radius is not None else ltrb.min(axis=-1) > 0
    reach = ltrb.max(axis=-1)
    in_range = (reach >= ranges[:, 0:1]) & (reach <= ranges[:, 1:2])
    cand = np.where(inside & in_range, areas[None, :], FCOS_INF)
    best = cand.argmin(axis=1)
    found = cand[np.arange(len(points)), best] != FCOS_INF
    return np.where(found, best, -1)


def _chunks(num: int, num_gts: int) -> list[slice]:
    size = min(MAX_CHUNK, max(MIN_CHUNK, IOU_BLOCK_ELEMENTS // (4 * num_gts)))
    return [slice(start, min(start + size, num)) for start in range(0, num, size)]


def _containing(gt_boxes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """bool [G]: GTs that may strictly contain a point of the chunk (its bounding box).

    Any other GT has ``min(l, t, r, b) <= 0`` for every point of the chunk, so it can be neither
    inside nor (the centre region lies within the box) centre-sampled: skipping it is exact.
    """
    x1, y1 = points[:, 0].min(), points[:, 1].min()
    x2, y2 = points[:, 0].max(), points[:, 1].max()
    return (gt_boxes[:, 0] < x2) & (gt_boxes[:, 2] > x1) & (gt_boxes[:, 1] < y2) & (gt_boxes[:, 3] > y1)


def assign_fcos_tv(anchors: np.ndarray, counts: np.ndarray, gt_boxes: np.ndarray,
                   gt_labels: np.ndarray, radius_factor: float) -> Assignment:
    """torchvision 0.28 ``FCOS.compute_loss`` matching, in mmdet codes (C.8).

    Points are the centres of torchvision's anchors (offset 0, ``(x * s, y * s)``), anchor size
    ``a = x2 - x1``. A point matches a GT when ``max(|p - c|) < radius_factor * a``, ``min(l, t,
    r, b) > 0`` and ``4a < max(l, t, r, b) < 8a`` (lower bound 0 on the first level, no upper
    bound on the last); the GT is ``argmax(match * (1e8 - area))`` in float32, unmatched below
    1e-5. No GT: every point NEGATIVE.
    """
    num, num_gts = len(anchors), len(gt_boxes)
    assigned = np.full(num, NEGATIVE, dtype=np.int64)
    if num_gts and num:
        centres = (anchors[:, :2] + anchors[:, 2:]) / np.float32(2)
        sizes = anchors[:, 2] - anchors[:, 0]
        lower = sizes * np.float32(4)
        lower[: counts[0]] = 0
        upper = sizes * np.float32(8)
        upper[num - counts[-1]:] = np.inf
        gt_centres = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / np.float32(2)
        score = FCOS_INF - (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
        for sl in _chunks(num, num_gts):
            c = centres[sl]
            near = np.abs(c[:, None, :] - gt_centres[None]).max(axis=2) < np.float32(radius_factor) * sizes[sl, None]
            ltrb = _ltrb(c, gt_boxes)
            reach = ltrb.max(axis=-1)
            match = near & (ltrb.min(axis=-1) > 0) & (reach > lower[sl, None]) & (reach < upper[sl, None])
            weighted = match.astype(np.float32) * score[None, :]
            best = weighted.argmax(axis=1)
            found = weighted[np.arange(len(c)), best] >= TV_MIN_MATCH
            assigned[sl] = np.where(found, best + 1, NEGATIVE)
    return _result(assigned, np.asarray(gt_labels))


def _result(assigned: np.ndarray, gt_labels: np.ndarray) -> Assignment:
    # Points have no IoU: max_iou is an empty array (see `Assignment`).
    return with_labels(assigned, np.zeros(0, dtype=np.float32), gt_labels)
