"""The ground truth of one image as a method sees it: checked arrays, boxes outside the image
left out (mmdet's dataset rule), scaled (and clipped) into network-input pixels."""
from __future__ import annotations

from typing import Any

import numpy as np

from samplegen.anchors import geometry as geo


def as_boxes(boxes: np.ndarray | None, name: str) -> np.ndarray:
    """float32 [N, 4] from any box array (None or empty: [0, 4]); ValueError for another shape."""
    arr = np.zeros((0, 4), np.float32) if boxes is None else np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4], got {arr.shape}")
    return arr


def overlaps_image(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """bool [G]: boxes with a non-empty intersection with the image (original pixels).

    mmdet ``CocoDataset.parse_data_info`` skips a box when ``max(0, min(x2, W) - max(x1, 0)) *
    max(0, min(y2, H) - max(y1, 0)) == 0``; kept, it would clip to zero area and tie with every
    prior at IoU 0 (mmdet #8289). Applied when ``input.drop_outside_gt`` is set.
    """
    b = boxes.astype(np.float64)
    inter_w = np.maximum(0.0, np.minimum(b[:, 2], width) - np.maximum(b[:, 0], 0.0))
    inter_h = np.maximum(0.0, np.minimum(b[:, 3], height) - np.maximum(b[:, 1], 0.0))
    return inter_w * inter_h > 0


def kept_gts(gt_boxes: np.ndarray, gt_labels: np.ndarray, width: int, height: int,
             drop_outside: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes float32 [K, 4], labels int32 [K], kept int64 [K] indices into the input) in
    original pixels, after the ``drop_outside_gt`` rule."""
    original = as_boxes(gt_boxes, "gt_boxes")
    labels = np.asarray(gt_labels, dtype=np.int32).reshape(-1)
    if len(labels) != len(original):
        raise ValueError(f"gt_labels has {len(labels)} entries for {len(original)} boxes")
    keep = overlaps_image(original, width, height) if drop_outside else np.ones(len(original), bool)
    return original[keep], labels[keep], np.flatnonzero(keep)


def network_gts(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int,
                height: int, g: geo.InputGeometry, input_cfg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gts, labels, ignores) in network-input pixels for geometry `g`.

    `input_cfg` supplies ``drop_outside_gt`` (the rule above) and ``clip_object_border`` (mmdet
    ``Resize``: boxes clipped to the resized image).
    """
    boxes, labels, _ = kept_gts(gt_boxes, gt_labels, width, height, input_cfg.drop_outside_gt)
    clip = input_cfg.clip_object_border
    gts = geo.scale_boxes(boxes, g, clip)
    ignores = geo.scale_boxes(as_boxes(ignore_boxes, "ignore_boxes"), g, clip)
    return gts, labels, ignores
