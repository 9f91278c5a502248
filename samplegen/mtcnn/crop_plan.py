"""`CropPlan`: the crops planned for one image, as parallel arrays, before any pixel is touched.

Planning (`propose.plan_faces`, `landmarks.plan_landmarks`, `hard.plan_hard`) produces plans;
balancing keeps some of their rows (`select`); cutting (`cut.cut_crops`) turns rows into pixels.

Crop convention (D.1, "one half-open convention"): a crop box ``[x1, y1, x2, y2]`` has integer
coordinates and ``x2 - x1 == y2 - y1 == side >= 1``; it covers the pixel columns
``x1 <= col < x2`` and rows ``y1 <= row < y2`` of the source image (pixel ``i`` spans the
continuous interval ``[i, i + 1)``, as in `samplegen.record`). Normalised quantities (`roi`,
`landmark`) divide by that same ``side``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

from samplegen.mtcnn.labels import CLASS_ORDER


@dataclass(frozen=True, eq=False)
class CropPlan:
    """K planned crops of one image (all arrays have K rows).

    Attributes:
        cls: int8 [K], `POS`, `NEG`, `PART` or `LANDMARK` (samplegen.mtcnn.labels).
        crop: float32 [K, 4], integer-valued square x1 y1 x2 y2 in source pixels; for rotated
            samples in the rotated frame (the image rotated by `angle` about `center`).
        roi: float32 [K, 4], regression targets to the matched face (labels.regression_targets,
            mirrored when `mirror`); zeros for negatives and rotated landmark samples.
        landmark: float32 [K, 10], ``l1x l1y ... l5x l5y`` normalised to the crop (after rotation
            and mirroring); zeros except for `LANDMARK` rows.
        angle: float32 [K], rotation in degrees (OpenCV convention, counter-clockwise), 0 if none.
        mirror: bool [K], the crop is flipped horizontally after resizing.
        iou: float32 [K], max IoU of the (unrotated) crop box with the faces.
        gt: int32 [K], index of the matched face in the record, -1 when none (negatives).
        center: float32 [K, 2], rotation centre in continuous source pixels; zeros when angle == 0.
    """

    cls: np.ndarray
    crop: np.ndarray
    roi: np.ndarray
    landmark: np.ndarray
    angle: np.ndarray
    mirror: np.ndarray
    iou: np.ndarray
    gt: np.ndarray
    center: np.ndarray

    def __len__(self) -> int:
        return int(self.cls.shape[0])


SAMPLE_COLUMNS: tuple[str, ...] = ("cls", "roi", "landmark", "crop", "angle", "mirror", "iou", "gt")
"""The fields of a plan that every output layout writes per sample (`center` is only for cutting)."""

_DTYPES = {"cls": np.int8, "crop": np.float32, "roi": np.float32, "landmark": np.float32,
           "angle": np.float32, "mirror": np.bool_, "iou": np.float32, "gt": np.int32,
           "center": np.float32}
_WIDTHS = {"crop": 4, "roi": 4, "landmark": 10, "center": 2}


def make_plan(cls: np.ndarray | int, crop: np.ndarray, *, roi: np.ndarray | None = None,
              landmark: np.ndarray | None = None, angle: np.ndarray | None = None,
              mirror: np.ndarray | None = None, iou: np.ndarray | None = None,
              gt: np.ndarray | None = None, center: np.ndarray | None = None) -> CropPlan:
    """A plan from `crop` [K, 4] and any subset of the other fields (missing ones are zeros,
    `gt` defaults to -1); a scalar `cls` is broadcast. Converts every field to its dtype."""
    crop = np.asarray(crop, np.float32).reshape(-1, 4)
    k = crop.shape[0]
    given = {"cls": cls, "crop": crop, "roi": roi, "landmark": landmark, "angle": angle,
             "mirror": mirror, "iou": iou, "gt": gt, "center": center}
    values = {}
    for name, dtype in _DTYPES.items():
        shape = (k, _WIDTHS[name]) if name in _WIDTHS else (k,)
        value = given[name]
        if value is None:
            values[name] = np.full(shape, -1, dtype) if name == "gt" else np.zeros(shape, dtype)
        elif np.ndim(value) == 0:
            values[name] = np.full(shape, value, dtype)
        else:
            value = np.ascontiguousarray(value, dtype)
            # Planning makes thousands of small plans: broadcast only when the shape asks for it.
            values[name] = value if value.shape == shape else np.ascontiguousarray(np.broadcast_to(value, shape))
    return CropPlan(**values)


def empty_plan() -> CropPlan:
    """A plan with no rows (every field with its dtype and width)."""
    return make_plan(0, np.zeros((0, 4), np.float32))


def concat_plans(plans: Sequence[CropPlan]) -> CropPlan:
    """Rows of `plans` one after the other (an empty sequence gives `empty_plan()`)."""
    if not plans:
        return empty_plan()
    return CropPlan(**{f.name: np.concatenate([getattr(p, f.name) for p in plans])
                       for f in fields(CropPlan)})


def select(plan: CropPlan, idx: np.ndarray) -> CropPlan:
    """The rows `idx` of `plan`: an int array (repeats allowed, order kept) or a bool mask [K]."""
    idx = np.asarray(idx)
    if idx.dtype != np.bool_:
        idx = idx.astype(np.int64)
    return CropPlan(**{f.name: getattr(plan, f.name)[idx] for f in fields(CropPlan)})


def class_counts(plan: CropPlan) -> np.ndarray:
    """int64 [4] number of rows per class in `CLASS_ORDER` (pos, neg, part, landmark)."""
    return np.array([int(np.count_nonzero(plan.cls == code)) for code in CLASS_ORDER], np.int64)
