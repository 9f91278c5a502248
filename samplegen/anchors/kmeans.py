"""YOLO-style k-means over box shapes with the distance ``1 - IoU`` (YOLO9000 sec. 2), seeded.

Pure helpers of ``fit-anchors``: fit anchor ratios over unit-area shapes and anchor scales over
sizes relative to each level's base size; each recipe expresses them in its own config keys.
"""
from __future__ import annotations

import math

import numpy as np

from samplegen.boxes import shape_iou


def kmeans_iou(wh: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 300) -> np.ndarray:
    """k shape centres (w, h) float64 [k, 2], sorted by area, by k-means with distance 1 - IoU.

    Centres start at k distinct boxes drawn by `rng` and move to the median of their members
    (YOLO's choice: robust to outliers); an empty cluster keeps its centre. With at most `k`
    distinct shapes, the distinct shapes are returned (padded by repetition).
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


def fit_ratios(wh: np.ndarray, k: int, rng: np.random.Generator) -> list[float]:
    """k anchor ratios ``h / w`` (ascending, 4 decimals) from k-means over unit-area shapes."""
    unit = wh / np.sqrt(wh[:, :1] * wh[:, 1:])
    return sorted(round(float(h / w), 4) for w, h in kmeans_iou(unit, k, rng))


def fit_relative_scales(wh: np.ndarray, bases: np.ndarray, scales: np.ndarray, k: int,
                        rng: np.random.Generator) -> list[float]:
    """k scales (ascending, 4 decimals) of box sizes relative to their level's base size.

    Each box goes to the level whose typical anchor (``base * geometric mean of scales``) is
    nearest in log size; its size divided by that level's base is what k-means clusters.
    """
    size = np.sqrt(wh[:, 0] * wh[:, 1])
    typical = bases * math.exp(np.log(scales).mean())
    level = np.abs(np.log(size[:, None] / typical[None, :])).argmin(axis=1)
    relative = size / bases[level]
    fitted = kmeans_iou(np.stack([relative, relative], axis=1), k, rng)[:, 0]
    return sorted(round(float(s), 4) for s in fitted)
