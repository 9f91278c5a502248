"""How well a method's priors fit a dataset (``fit-anchors``), and the table's suggestion.

Recall is measured as the method trains: every GT box is scaled into the network input
(`input_geometry`), and its *best prior* is the prior of that image with the highest IoU (position
and shape, the quantity the MaxIoU assigner thresholds). A GT whose best prior stays under the
positive threshold only becomes positive through the low-quality step, or not at all: the classic
sign that a method's anchors do not suit the data.

The suggestion is the method's own (`Method.suggest`: YOLO-style 1 - IoU k-means, `kmeans`),
expressed in its configuration keys so that ``--config`` accepts it; a method without anchor
shapes (FCOS) has `Method.not_fittable` instead.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from samplegen.anchors.config import MethodConfig
from samplegen.anchors.geometry import scale_boxes
from samplegen.anchors.methods import geometry_priors, input_geometry, method_of
from samplegen.boxes import IOU_BLOCK_ELEMENTS, iou
from samplegen.record import Record

SIZE_BUCKETS: tuple[float, ...] = (0, 16, 32, 64, 128, 256, 512, math.inf)
"""Edges of the size buckets, sqrt(w h) in network-input pixels; [lo, hi)."""
RECALL_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)


def bucket_name(lo: float, hi: float) -> str:
    return f"{lo:g}+" if math.isinf(hi) else f"{lo:g}-{hi:g}"


def network_boxes(record: Record, cfg: MethodConfig) -> np.ndarray:
    """The record's usable GT boxes in network-input pixels (float32 [G, 4])."""
    geometry = input_geometry(cfg, record.width, record.height)
    return scale_boxes(record.boxes, geometry, cfg.input.clip_object_border)


def best_prior_iou(records: Iterable[Record], cfg: MethodConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per GT box: sqrt(w h) in network pixels and the IoU of its best prior.

    Records without a known size are left out (the caller reports them). Priors are built once
    per distinct input geometry.

    Returns:
        sizes float64 [G], best float32 [G] (0 where a box overlaps no prior).
    """
    if method_of(cfg).suggest is None:
        raise ValueError(method_of(cfg).not_fittable or f"{cfg.method}: no prior IoU to measure")
    cache: dict[tuple, np.ndarray] = {}
    sizes, best = [], []
    for record in records:
        if record.width is None or record.height is None or record.num_boxes == 0:
            continue
        geometry = input_geometry(cfg, record.width, record.height)
        key = (geometry.pad_shape, geometry.featmap_sizes)
        if key not in cache:
            cache[key] = geometry_priors(cfg, geometry)[0]
        priors = cache[key]
        boxes = scale_boxes(record.boxes, geometry, cfg.input.clip_object_border)
        step = max(1, IOU_BLOCK_ELEMENTS // max(1, boxes.shape[0]))
        image_best = np.zeros(boxes.shape[0], np.float32)
        for start in range(0, priors.shape[0], step):
            image_best = np.maximum(image_best, iou(boxes, priors[start:start + step]).max(axis=1))
        sizes.append(np.sqrt(np.maximum(_areas(boxes), 0.0)))
        best.append(image_best)
    if not sizes:
        return np.zeros(0), np.zeros(0, np.float32)
    return np.concatenate(sizes), np.concatenate(best)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]).astype(np.float64) * (boxes[:, 3] - boxes[:, 1])


def recall_table(sizes: np.ndarray, best: np.ndarray,
                 thresholds: Sequence[float] = RECALL_THRESHOLDS) -> dict[str, dict]:
    """Per size bucket and over ``all``: GT count and the fraction whose best prior reaches each IoU.

    Fractions are rounded to 4 decimals; a bucket without boxes reports null fractions.
    """
    def row(mask: np.ndarray) -> dict:
        count = int(mask.sum())
        return {"boxes": count, **{f"iou>={t:g}": round(float((best[mask] >= t).mean()), 4) if count else None
                                   for t in thresholds}}

    table = {bucket_name(lo, hi): row((sizes >= lo) & (sizes < hi))
             for lo, hi in zip(SIZE_BUCKETS[:-1], SIZE_BUCKETS[1:])}
    table["all"] = row(np.ones(sizes.shape, bool))
    return table


def suggest_overrides(boxes_wh: np.ndarray, cfg: MethodConfig, rng: np.random.Generator) -> dict:
    """Nested configuration overrides of a better-fitting anchor set (`Method.suggest`).

    Args:
        boxes_wh: float [G, 2] GT widths and heights in network-input pixels (non-positive ones
            are left out).
        cfg: the method's configuration (its strides, level count and ratio/scale counts are kept).
        rng: the generator of the k-means initialisation.

    Raises:
        ValueError: the method has no anchor shapes to fit (`Method.not_fittable`).
    """
    spec = method_of(cfg)
    if spec.suggest is None:
        raise ValueError(spec.not_fittable or f"{cfg.method} has no anchors to fit")
    wh = np.asarray(boxes_wh, np.float64).reshape(-1, 2)
    return spec.suggest(wh[(wh > 0).all(axis=1)], cfg, rng)
