"""The search of ``fit-anchors``: anchors that serve the method's own assigner better, never worse.

What an assigner rewards is not what k-means over shapes minimises. A MaxIoU assigner makes a GT
positive through a prior at IoU >= ``pos_iou_thr`` (and, with low-quality matching, through its
best prior at IoU >= ``min_pos_iou``); YOLOv5 through an anchor whose width and height ratios stay
under ``anchor_t``. So a candidate anchor set is scored, over the dataset's GT boxes, by the
lexicographic `Objective`:

1. recall at the positive threshold (the share of GTs whose best prior reaches it);
2. recall at the low-quality threshold (``min_pos_iou``; 0 when the method has none), which
   must also stay at least the preset's, as must the number of priors at the positive threshold
   near each GT: a set that leaves GTs without any positive, or trades many positives of large
   boxes for the recall of a few, is not a candidate however much it raises (1);
3. the mean best score (mean best IoU, or YOLOv5's mean best ``min(r, 1/r)``).

`local_search` climbs from the preset and from each k-means start of the recipe, moving one
parameter at a time (log-space steps of 0.7, 0.3, 0.1, 0.03) and keeping a move only when the
objective rises, and returns the best climb; it is deterministic and, since the preset's climb
never goes below the preset, never ends below it. The
per-GT scores come from `grid_best_iou`: on a grid of priors ``base[a] + (x s, y s)`` the best
prior of a box of a given shape is, per level and base anchor, the one on the cell nearest the
box centre (the intersection shrinks with the centre offset on each axis), so a candidate costs
G x A IoUs instead of G x 250k. ``fit-anchors`` then measures before and after on the real priors
(`samplegen.anchors.fit.best_prior_iou`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

STEPS = (0.7, 0.3, 0.1, 0.03)  # log-space moves: x2, x1.35, x1.105, x1.03
MAX_EVALUATIONS = 800


@dataclass(frozen=True)
class Criterion:
    """What the method's assigner rewards, on per-GT scores (IoU, or YOLOv5's shape ratio).

    Attributes:
        positive: score at which a GT's best prior is a positive (``pos_iou_thr``; YOLOv5:
            ``1 / anchor_t``).
        low_quality: score at which the low-quality step still makes one positive
            (``min_pos_iou``), None without low-quality matching.
        score: ``"iou"`` or ``"shape_ratio"`` (what the scores are).
    """

    positive: float
    low_quality: float | None
    score: str = "iou"


Objective = tuple[float, float, float]


def objective(scores: np.ndarray, criterion: Criterion) -> Objective:
    """(recall at the positive threshold, recall at the low-quality one or 0, mean score) of
    per-GT scores float [G]; recalls rounded to 1e-9 so float noise cannot break a tie."""
    if scores.size == 0:
        return (0.0, 0.0, 0.0)
    low = float((scores >= criterion.low_quality).mean()) if criterion.low_quality is not None else 0.0
    return (round(float((scores >= criterion.positive).mean()), 9), round(low, 9), float(scores.mean()))


@dataclass(frozen=True)
class FitSpace:
    """A method's anchor parameters as a log-space vector, and how to score and express them.

    Attributes:
        start: the preset's parameters float64 [K].
        starts: other starting points (the recipe's k-means fits), climbed from as well.
        scores: ``theta -> (float64 [G], int | None)``: per-GT scores of the anchors `theta`
            describes, and the (proxy) count of priors at the positive threshold, which a
            candidate must not lower (None: no such constraint).
        overrides: ``theta -> nested config overrides`` (what ``--config`` accepts).
        criterion: what the scores are judged by.
    """

    start: np.ndarray
    starts: tuple[np.ndarray, ...]
    scores: Callable[[np.ndarray], np.ndarray]
    overrides: Callable[[np.ndarray], dict]
    criterion: Criterion


@dataclass(frozen=True)
class SearchResult:
    """The best parameters found, and every improvement accepted on the way (best first)."""

    theta: np.ndarray
    best: Objective
    preset: Objective
    evaluations: int
    path: tuple[tuple[np.ndarray, Objective], ...]

    @property
    def improved(self) -> bool:
        return self.best > self.preset


def local_search(space: FitSpace, steps: Sequence[float] = STEPS,
                 max_evaluations: int = MAX_EVALUATIONS) -> SearchResult:
    """Coordinate climbs from the preset and from each k-means start; a move is kept only if it
    raises the `objective`, so the result is never below the preset (see the module doc)."""
    count = 0
    floor = None            # the preset's (low-quality recall, positives): no candidate may go under
    path: list[tuple[np.ndarray, Objective]] = []

    def score(theta: np.ndarray) -> Objective:
        nonlocal count, floor
        count += 1
        per_gt, positives = space.scores(theta)
        value = objective(per_gt, space.criterion)
        if floor is None:
            floor = (value[1], positives)
            return value
        feasible = value[1] >= floor[0] and (positives is None or positives >= floor[1])
        return value if feasible else (-1.0, value[1], value[2])

    def climb(theta: np.ndarray, best: Objective, budget: int) -> tuple[np.ndarray, Objective]:
        for step in steps:
            improved = True
            while improved and count < budget:
                improved = False
                for i in range(theta.size):
                    for sign in (1.0, -1.0):
                        trial = theta.copy()
                        trial[i] += sign * step
                        value = score(trial)
                        if value > best:
                            theta, best, improved = trial, value, True
                            if value > preset:
                                path.append((trial, value))
                            break
        return theta, best

    starts = [np.asarray(space.start, np.float64).copy()] + [np.asarray(s, np.float64).copy() for s in space.starts]
    preset = score(starts[0])
    theta, best = climb(starts[0], preset, max_evaluations // len(starts))
    for k, start in enumerate(starts[1:], 2):
        value = score(start)
        if value > preset:
            path.append((start, value))
        other, value = climb(start, value, max_evaluations * k // len(starts))
        if value > best:
            theta, best = other, value
    ranked = tuple(sorted(path, key=lambda item: item[1], reverse=True))
    return SearchResult(theta, best, preset, count, ranked)


@dataclass(frozen=True)
class FitBoxes:
    """The GT boxes of a dataset as the method's network sees them.

    Attributes:
        boxes: float64 [G, 4] x1 y1 x2 y2 in network-input pixels.
        featmaps: int64 [G, L, 2] (H, W) of each level for the box's image.
    """

    boxes: np.ndarray
    featmaps: np.ndarray

    @property
    def wh(self) -> np.ndarray:
        return self.boxes[:, 2:] - self.boxes[:, :2]


COUNT_RADIUS = 3     # cells around the nearest one where `grid_best_iou` counts priors over a threshold


def grid_best_iou(fit: FitBoxes, strides: Sequence[float], base_anchors: Sequence[np.ndarray],
                  count_over: float | None = None,
                  radius: int = COUNT_RADIUS) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """float64 [G]: each box's best IoU over grid priors ``base[a] + (x s, y s)``, x < W, y < H.

    Args:
        fit: the boxes and their images' feature-map sizes.
        strides: per level; base_anchors: per level float [A_l, 4], the anchors of cell (0, 0).
        count_over: also return int64 [G], per box the priors with IoU >= this within
            `radius` cells of the nearest one (a proxy of its positives at that IoU; YOLOv3
            counts its responsible cell only, radius 0).
    """
    b = fit.boxes
    best = np.zeros(len(b))
    counts = np.zeros(len(b), np.int64)
    if len(b) == 0:
        return best if count_over is None else (best, counts)
    centre = (b[:, :2] + b[:, 2:]) / 2
    area = np.prod(b[:, 2:] - b[:, :2], axis=1)
    for level, (stride, base) in enumerate(zip(strides, base_anchors)):
        base = np.asarray(base, np.float64)
        a_centre, a_half = (base[:, :2] + base[:, 2:]) / 2, (base[:, 2:] - base[:, :2]) / 2   # [A, 2]
        limit = fit.featmaps[:, level, ::-1] - 1                                              # [G, 2] (W-1, H-1)
        cell = np.clip(np.rint((centre[:, None, :] - a_centre[None]) / stride), 0, limit[:, None, :])
        c = a_centre[None] + cell * stride                                                     # [G, A, 2]
        lo = np.maximum(b[:, None, :2], c - a_half[None])
        hi = np.minimum(b[:, None, 2:], c + a_half[None])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
        a_area = np.prod(2 * a_half, axis=1)
        union = area[:, None] + a_area[None] - inter
        best = np.maximum(best, (inter / np.maximum(union, 1e-12)).max(axis=1))
        if count_over is not None:
            counts += _count_near(b, area, c, a_half, a_area, stride, cell, limit, count_over, radius)
    return best if count_over is None else (best, counts)


def _count_near(b: np.ndarray, area: np.ndarray, c: np.ndarray, a_half: np.ndarray, a_area: np.ndarray,
                stride: float, cell: np.ndarray, limit: np.ndarray, threshold: float, radius: int) -> np.ndarray:
    """int64 [G]: priors at IoU >= threshold on the cells within `radius` of `cell` [G, A, 2]."""
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    shifted = cell[..., None] + offsets                                                  # [G, A, 2, K]
    valid = (shifted >= 0) & (shifted <= limit[:, None, :, None])
    centres = c[..., None] + offsets * stride                                            # [G, A, 2, K]
    lo = np.maximum(b[:, None, :2, None], centres - a_half[None, :, :, None])
    hi = np.minimum(b[:, None, 2:, None], centres + a_half[None, :, :, None])
    side = np.where(valid, np.clip(hi - lo, 0, None), 0.0)                               # [G, A, 2, K]
    inter = side[:, :, 0, None, :] * side[:, :, 1, :, None]                              # [G, A, K, K]
    union = area[:, None, None, None] + a_area[None, :, None, None] - inter
    return (inter >= threshold * union).sum(axis=(1, 2, 3))
