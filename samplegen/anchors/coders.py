"""Regression targets: mmdetection's DeltaXYWHBBoxCoder and FCOS distances / centerness.

All in float32 in the reference's operation order (reference-semantics C.7, C.8); outputs agree
with mmdetection to float32 rounding of ``log`` (well inside 1e-5).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from samplegen.anchors.labels import gt_index_of, positive_mask

F32 = np.float32


def encode_delta_xywh(priors: np.ndarray, gt_boxes: np.ndarray, means: Sequence[float],
                      stds: Sequence[float]) -> np.ndarray:
    """mmdet ``bbox2delta``: float32 [P, 4] deltas of matched pairs priors [P, 4] -> gt [P, 4].

    ``px = (x1 + x2) * 0.5``, ``pw = x2 - x1`` (same for gt); ``d = ((gx - px) / pw,
    (gy - py) / ph, log(gw / pw), log(gh / ph))``; ``t = (d - means) / stds``. RPN/RetinaNet use
    stds 1, R-CNN/SSD (0.1, 0.1, 0.2, 0.2). A zero-width GT gives ``-inf`` as in mmdet.
    """
    p = np.asarray(priors, dtype=F32).reshape(-1, 4)
    g = np.asarray(gt_boxes, dtype=F32).reshape(-1, 4)
    half = F32(0.5)
    px, py = (p[:, 0] + p[:, 2]) * half, (p[:, 1] + p[:, 3]) * half
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gx, gy = (g[:, 0] + g[:, 2]) * half, (g[:, 1] + g[:, 3]) * half
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        deltas = np.stack([(gx - px) / pw, (gy - py) / ph, np.log(gw / pw), np.log(gh / ph)], axis=-1)
    return (deltas - np.asarray(means, dtype=F32)) / np.asarray(stds, dtype=F32)


def decode_delta_xywh(priors: np.ndarray, deltas: np.ndarray, means: Sequence[float],
                      stds: Sequence[float], wh_ratio_clip: float = 16 / 1000) -> np.ndarray:
    """Inverse of `encode_delta_xywh` (mmdet ``delta2bbox`` without clipping to the image).

    |dw|, |dh| are clamped to ``|log(wh_ratio_clip)|`` as in mmdet. float32 [P, 4].
    """
    p = np.asarray(priors, dtype=F32).reshape(-1, 4)
    d = np.asarray(deltas, dtype=F32).reshape(-1, 4) * np.asarray(stds, dtype=F32) + np.asarray(means, dtype=F32)
    limit = F32(abs(np.log(wh_ratio_clip)))
    dw, dh = np.clip(d[:, 2], -limit, limit), np.clip(d[:, 3], -limit, limit)
    half = F32(0.5)
    px, py = (p[:, 0] + p[:, 2]) * half, (p[:, 1] + p[:, 3]) * half
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gx, gy = px + pw * d[:, 0], py + ph * d[:, 1]
    gw, gh = pw * np.exp(dw), ph * np.exp(dh)
    return np.stack([gx - gw * half, gy - gh * half, gx + gw * half, gy + gh * half], axis=-1)


def encode_distance(points: np.ndarray, gt_boxes: np.ndarray, strides: np.ndarray | None = None) -> np.ndarray:
    """FCOS targets float32 [P, 4]: ``(px - x1, py - y1, x2 - px, y2 - py)`` of matched pairs.

    With `strides` float32 [P] (``norm_on_bbox``), each row is divided by its level's stride.
    """
    p = np.asarray(points, dtype=F32).reshape(-1, 2)
    g = np.asarray(gt_boxes, dtype=F32).reshape(-1, 4)
    ltrb = np.stack([p[:, 0] - g[:, 0], p[:, 1] - g[:, 1], g[:, 2] - p[:, 0], g[:, 3] - p[:, 1]], axis=-1)
    return ltrb if strides is None else ltrb / np.asarray(strides, dtype=F32)[:, None]


def centerness(ltrb: np.ndarray) -> np.ndarray:
    """FCOS centerness float32 [P]: ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``.

    mmdet ``FCOSHead.centerness_target``; empty input gives an empty array.
    """
    t = np.asarray(ltrb, dtype=F32).reshape(-1, 4)
    lr, tb = t[:, [0, 2]], t[:, [1, 3]]
    return np.sqrt((lr.min(axis=-1) / lr.max(axis=-1)) * (tb.min(axis=-1) / tb.max(axis=-1)))


def delta_targets(priors: np.ndarray, gt_boxes: np.ndarray, assignment, coder) -> dict[str, np.ndarray]:
    """The per-prior arrays of an IoU-assigned method and the deltas of its positives.

    Args:
        priors: float32 [A, 4]; gt_boxes: float32 [G, 4] (network-input pixels).
        assignment: `samplegen.anchors.assign.Assignment` over the priors.
        coder: `CoderParams` (target means and stds).

    Returns:
        ``assigned_gt``, ``labels``, ``max_iou`` [A]; ``pos_inds`` int32 [P] ascending and
        ``pos_targets`` float32 [P, 4], the `encode_delta_xywh` of each positive to its GT.
    """
    pos = np.flatnonzero(positive_mask(assignment.assigned_gt))
    matched = gt_boxes[gt_index_of(assignment.assigned_gt)] if len(pos) else np.zeros((0, 4), np.float32)
    deltas = encode_delta_xywh(priors[pos], matched, coder.target_means, coder.target_stds)
    return {"assigned_gt": assignment.assigned_gt, "labels": assignment.labels, "max_iou": assignment.max_iou,
            "pos_inds": pos.astype(np.int32), "pos_targets": deltas.astype(np.float32)}
