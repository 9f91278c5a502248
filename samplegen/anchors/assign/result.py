"""`Assignment`, the per-prior result every assigner returns, in mmdetection's encoding
(`samplegen.anchors.labels`), and its two constructors."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samplegen.anchors.labels import FIRST_POSITIVE, IGNORE, NEGATIVE, NO_LABEL


@dataclass(frozen=True)
class Assignment:
    """Per-prior assignment result (mmdetection ``AssignResult``).

    Attributes:
        assigned_gt: int32 [N]; NEGATIVE (0), IGNORE (-1) or k + 1 for GT k.
        max_iou: float32 [N]; each prior's max IoU over the GTs (-1 where an ignore region
            removed the column, 0 everywhere when there is no GT); float32 [0] for point
            assigners (FCOS), which have no IoU.
        labels: int32 [N]; the matched GT's class for positives, NO_LABEL elsewhere.
    """

    assigned_gt: np.ndarray
    max_iou: np.ndarray
    labels: np.ndarray


def empty_assignment(num: int, num_gts: int) -> Assignment:
    """No prior or no GT: every prior NEGATIVE without GTs, IGNORE otherwise (mmdet's empty case)."""
    fill = NEGATIVE if num_gts == 0 else IGNORE
    return Assignment(np.full(num, fill, dtype=np.int32), np.zeros(num, dtype=np.float32),
                      np.full(num, NO_LABEL, dtype=np.int32))


def with_labels(assigned: np.ndarray, max_iou: np.ndarray, gt_labels: np.ndarray) -> Assignment:
    """The Assignment of `assigned` int [N] with the classes of the positives' GTs filled in."""
    labels = np.full(len(assigned), NO_LABEL, dtype=np.int32)
    pos = assigned >= FIRST_POSITIVE
    labels[pos] = gt_labels[assigned[pos] - FIRST_POSITIVE]
    return Assignment(assigned.astype(np.int32), max_iou, labels)
