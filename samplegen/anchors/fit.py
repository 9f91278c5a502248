"""How well a method's priors fit a dataset, and a better-fitting anchor set (``fit-anchors``).

Recall is measured as the method trains: every GT box is scaled into the network input
(`input_geometry`), and its *best prior* is the prior of that image with the highest IoU (position
and shape, the quantity the MaxIoU assigner thresholds). A GT whose best prior stays under the
positive threshold only becomes positive through the low-quality step, or not at all: the classic
sign that a method's anchors do not suit the data.

The suggestion is YOLO-style k-means over box shapes with the distance ``1 - IoU`` of boxes
sharing a centre (Redmon & Farhadi, YOLO9000 sec. 2), seeded, expressed in the method's own
configuration keys so that ``--config`` accepts it:

* grid methods (faster_rcnn, fpn, retinanet): ``ratios`` from k-means over unit-area shapes
  (k = number of ratios), ``scales`` from k-means over each box's size relative to the stride of
  the level it falls on (k = number of scales per level);
* SSD: ``min_sizes`` per level from the boxes that fall on that level (k = 1 per level), the
  preset's ``max / min`` factor kept.
Anchor-free methods (FCOS) have no anchor shapes to fit.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

from samplegen.anchors.config import FcosConfig, GridAnchorConfig, MethodConfig, SsdConfig
from samplegen.anchors.geometry import scale_boxes
from samplegen.anchors.methods import geometry_priors, input_geometry, ssd_min_max_sizes
from samplegen.boxes import iou
from samplegen.record import Record

SIZE_BUCKETS: tuple[float, ...] = (0, 16, 32, 64, 128, 256, 512, math.inf)
"""Edges of the size buckets, sqrt(w h) in network-input pixels; [lo, hi)."""
RECALL_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)
_CHUNK = 1 << 22  # IoU entries per block: bounded memory for FPN's 270k priors


def bucket_name(lo: float, hi: float) -> str:
    return f"{lo:g}+" if math.isinf(hi) else f"{lo:g}-{hi:g}"


def network_boxes(record: Record, cfg: MethodConfig) -> np.ndarray:
    """The record's usable GT boxes in network-input pixels (float32 [G, 4])."""
    geometry = input_geometry(cfg, record.width, record.height)
    return scale_boxes(record.boxes, geometry, cfg.clip_object_border)


def best_prior_iou(records: Iterable[Record], cfg: MethodConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per GT box: sqrt(w h) in network pixels and the IoU of its best prior.

    Records without a known size are left out (the caller reports them). Priors are built once
    per distinct input geometry.

    Returns:
        sizes float64 [G], best float32 [G] (0 where a box overlaps no prior).
    """
    if isinstance(cfg, FcosConfig):
        raise ValueError("FCOS has points, not anchors: there is no prior IoU to measure")
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
        boxes = scale_boxes(record.boxes, geometry, cfg.clip_object_border)
        step = max(1, _CHUNK // max(1, boxes.shape[0]))
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


def shape_iou(wh: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """IoU [N, K] of boxes [N, 2] (w, h) and [K, 2] sharing one centre (shape-only IoU)."""
    inter = np.minimum(wh[:, None, 0], centres[None, :, 0]) * np.minimum(wh[:, None, 1], centres[None, :, 1])
    union = (wh[:, 0] * wh[:, 1])[:, None] + (centres[:, 0] * centres[:, 1])[None, :] - inter
    return inter / np.maximum(union, 1e-12)


def kmeans_iou(wh: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 300) -> np.ndarray:
    """k shape centres (w, h) float64 [k, 2], sorted by area, by k-means with distance 1 - IoU.

    Centres start at k distinct boxes drawn by `rng` and move to the median of their members
    (YOLO's choice: robust to outliers); an empty cluster keeps its centre. With fewer distinct
    shapes than `k`, the distinct shapes are returned (padded by repetition).
    """
    wh = np.asarray(wh, np.float64).reshape(-1, 2)
    if wh.shape[0] == 0:
        raise ValueError("no boxes to cluster")
    distinct = np.unique(wh, axis=0)
    if distinct.shape[0] <= k:
        picked = distinct[np.arange(k) % distinct.shape[0]]
        return picked[np.argsort(picked[:, 0] * picked[:, 1], kind="stable")]
    centres = distinct[rng.choice(distinct.shape[0], size=k, replace=False)]
    members = np.full(wh.shape[0], -1)
    for _ in range(iterations):
        nearest = shape_iou(wh, centres).argmax(axis=1)
        if np.array_equal(nearest, members):
            break
        members = nearest
        for c in range(k):
            if (members == c).any():
                centres[c] = np.median(wh[members == c], axis=0)
    return centres[np.argsort(centres[:, 0] * centres[:, 1], kind="stable")]


def mean_best_shape_iou(wh: np.ndarray, centres: np.ndarray) -> float:
    """Average over boxes of the best shape IoU with the centres (k-means' objective)."""
    return float(shape_iou(np.asarray(wh, np.float64), centres).max(axis=1).mean()) if len(wh) else 0.0


def _grid_scales(cfg: GridAnchorConfig) -> np.ndarray:
    if cfg.scales is not None:
        return np.asarray(cfg.scales, np.float64)
    return cfg.octave_base_scale * 2.0 ** (np.arange(cfg.scales_per_octave) / cfg.scales_per_octave)


def suggest_overrides(boxes_wh: np.ndarray, cfg: MethodConfig, rng: np.random.Generator) -> dict:
    """Configuration overrides of a better-fitting anchor set (module docstring).

    Args:
        boxes_wh: float [G, 2] GT widths and heights in network-input pixels.
        cfg: the method's configuration (its strides, level count and ratio/scale counts are kept).
        rng: the generator of the k-means initialisation.
    """
    wh = np.asarray(boxes_wh, np.float64).reshape(-1, 2)
    wh = wh[(wh > 0).all(axis=1)]
    if isinstance(cfg, GridAnchorConfig):
        return _suggest_grid(wh, cfg, rng)
    if isinstance(cfg, SsdConfig):
        return _suggest_ssd(wh, cfg, rng)
    raise ValueError("fit-anchors needs an anchor-based method (FCOS is anchor-free)")


def _suggest_grid(wh: np.ndarray, cfg: GridAnchorConfig, rng: np.random.Generator) -> dict:
    unit = wh / np.sqrt(wh[:, :1] * wh[:, 1:])
    shapes = kmeans_iou(unit, len(cfg.ratios), rng)
    ratios = sorted(round(float(h / w), 4) for w, h in shapes)
    scales = _grid_scales(cfg)
    bases = np.asarray(cfg.base_sizes or [min(s, s) for s in cfg.strides], np.float64)
    size = np.sqrt(wh[:, 0] * wh[:, 1])
    typical = bases * math.exp(np.log(scales).mean())
    level = np.abs(np.log(size[:, None] / typical[None, :])).argmin(axis=1)
    relative = size / bases[level]
    fitted = kmeans_iou(np.stack([relative, relative], axis=1), len(scales), rng)[:, 0]
    return {"ratios": ratios, "scales": sorted(round(float(s), 4) for s in fitted),
            "octave_base_scale": None, "scales_per_octave": None}


def _suggest_ssd(wh: np.ndarray, cfg: SsdConfig, rng: np.random.Generator) -> dict:
    min_sizes, max_sizes = (np.asarray(v, np.float64) for v in ssd_min_max_sizes(cfg))
    size = np.sqrt(wh[:, 0] * wh[:, 1])
    level = np.abs(np.log(size[:, None] / min_sizes[None, :])).argmin(axis=1)
    fitted = min_sizes.copy()
    for lvl in range(len(min_sizes)):
        members = size[level == lvl]
        if members.shape[0]:
            fitted[lvl] = kmeans_iou(np.stack([members, members], axis=1), 1, rng)[0, 0]
    fitted = np.maximum.accumulate(np.round(fitted, 2))
    factor = max_sizes / min_sizes
    return {"sizes": "explicit", "min_sizes": fitted.tolist(),
            "max_sizes": np.round(fitted * factor, 2).tolist()}
