"""Which priors take part in assignment: mmdetection's ``anchor_inside_flags`` (C.2).

Priors outside the allowed border are not assigned at all (IGNORE, max IoU 0), exactly as mmdet
runs the assigner on the inside anchors only and unmaps the result.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from samplegen.anchors.assign.result import Assignment
from samplegen.anchors.labels import IGNORE, NO_LABEL


def inside_flags(priors: np.ndarray, shape: tuple[int, int], allowed_border: float) -> np.ndarray:
    """bool [A]: mmdet ``anchor_inside_flags`` for a single (unbatched) image.

    ``allowed_border < 0``: all True. Otherwise ``x1 >= -ab, y1 >= -ab, x2 < W + ab, y2 < H + ab``
    with (H, W) = `shape`; mmdet 3.x checks against the padded shape (its ``img_shape`` is
    overwritten by ``Pad``), so callers pass ``pad_shape``.
    """
    if allowed_border < 0:
        return np.ones(len(priors), dtype=bool)
    ab = np.float32(allowed_border)
    h, w = shape
    return ((priors[:, 0] >= -ab) & (priors[:, 1] >= -ab) & (priors[:, 2] < np.float32(w) + ab)
            & (priors[:, 3] < np.float32(h) + ab))


def assign_inside(priors: np.ndarray, inside: np.ndarray, assign: Callable[[np.ndarray], Assignment]) -> Assignment:
    """`assign` run on the inside priors only; outside ones become IGNORE with max_iou 0."""
    if inside.all():
        return assign(priors)
    part = assign(priors[inside])
    assigned = np.full(len(priors), IGNORE, np.int32)
    max_iou = np.zeros(len(priors), np.float32)
    labels = np.full(len(priors), NO_LABEL, np.int32)
    assigned[inside], max_iou[inside], labels[inside] = part.assigned_gt, part.max_iou, part.labels
    return Assignment(assigned, max_iou, labels)
