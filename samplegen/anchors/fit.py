"""How well a method's priors fit a dataset (``fit-anchors``), and a fitted set that is no worse.

Recall is measured as the method trains: every GT box is put into the network input the way
`label_image` puts it, and its *best prior* is the prior of that image with the highest IoU
(position and shape, the quantity the MaxIoU assigner thresholds), computed on the real priors.
A GT whose best prior stays under the positive threshold only becomes positive through the
low-quality step, or not at all: the classic sign that a method's anchors do not suit the data.

`fit_anchor_set` searches the method's own parameter space (`Method.fit_space`) for what its
assigner rewards (`samplegen.anchors.fit_search`), then checks the result on the real priors:
a set that does not raise the objective there is not suggested (the preset is already the best
found). `labelling_pass` counts the positives a real `label_image` run gives each GT.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from samplegen.anchors.assign.windows import WindowedOverlaps, prior_grid
from samplegen.anchors.config import MethodConfig
from samplegen.anchors.fit_search import Criterion, FitBoxes, Objective, local_search, objective
from samplegen.anchors.geometry import scale_boxes
from samplegen.anchors.labels import FIRST_POSITIVE
from samplegen.anchors.methods import geometry_priors, input_geometry, label_image, method_of
from samplegen.boxes import best_iou
from samplegen.record import Record
from samplegen.rng import rng_for

SIZE_BUCKETS: tuple[float, ...] = (0, 16, 32, 64, 128, 256, 512, math.inf)
"""Edges of the size buckets, sqrt(w h) in network-input pixels; [lo, hi)."""
RECALL_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)


def bucket_name(lo: float, hi: float) -> str:
    return f"{lo:g}+" if math.isinf(hi) else f"{lo:g}-{hi:g}"


def fittable(cfg: MethodConfig) -> None:
    """Raise ValueError (with the reason) when `cfg`'s anchors cannot be fitted."""
    spec = method_of(cfg)
    if spec.fit_space is None:
        raise ValueError(spec.not_fittable or f"{cfg.method} has no anchors to fit")
    if getattr(cfg, "compat", "mmdet") == "torchvision":
        raise ValueError(f"{cfg.method}: fit-anchors fits mmdetection's anchor generator (compat: mmdet)")


def network_boxes(record: Record, cfg: MethodConfig) -> np.ndarray:
    """The record's usable GT boxes in network-input pixels (float32 [G, 4])."""
    spec = method_of(cfg)
    if spec.fit_boxes is not None:
        return spec.fit_boxes(cfg, record.boxes, record.labels, record.width, record.height)
    geometry = input_geometry(cfg, record.width, record.height)
    return scale_boxes(record.boxes, geometry, cfg.input.clip_object_border)


def _sized(records: Iterable[Record]) -> list[Record]:
    return [r for r in records if r.width is not None and r.height is not None and r.num_boxes]


def best_prior_iou(records: Iterable[Record], cfg: MethodConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per GT box: sqrt(w h) in network pixels and the IoU of its best prior (the real priors).

    Records without a known size are left out (the caller reports them). Priors are built once
    per distinct input geometry; grid priors use the exact windowed IoU (`assign.windows`).

    Returns:
        sizes float64 [G], best float32 [G] (0 where a box overlaps no prior).
    """
    fittable(cfg)
    cache: dict[tuple, tuple] = {}
    sizes, best = [], []
    for record in _sized(records):
        geometry = input_geometry(cfg, record.width, record.height)
        key = (geometry.pad_shape, geometry.featmap_sizes)
        if key not in cache:
            priors, counts = geometry_priors(cfg, geometry)
            cache[key] = (priors, prior_grid(priors, counts, geometry.featmap_sizes))
        priors, layout = cache[key]
        boxes = network_boxes(record, cfg)
        if layout is not None and len(boxes):
            windowed = WindowedOverlaps(boxes, layout, len(priors), np.zeros(len(priors), bool))
            image_best = windowed.stats().gt_max
        else:
            image_best = best_iou(boxes, priors)[0]
        sizes.append(np.sqrt(np.maximum(_areas(boxes), 0.0)))
        best.append(image_best.astype(np.float32))
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
        return {"boxes": count, **{f"iou>={t:g}": round(float((best[mask] >= np.float32(t)).mean()), 4)
                                   if count else None for t in thresholds}}

    table = {bucket_name(lo, hi): row((sizes >= lo) & (sizes < hi))
             for lo, hi in zip(SIZE_BUCKETS[:-1], SIZE_BUCKETS[1:])}
    table["all"] = row(np.ones(sizes.shape, bool))
    return table


def report_thresholds(criterion: Criterion) -> tuple[float, ...]:
    """0.3 / 0.5 / 0.7 and the method's own IoU thresholds, ascending."""
    own = [criterion.positive, criterion.low_quality] if criterion.score == "iou" else []
    return tuple(sorted(set(RECALL_THRESHOLDS) | {t for t in own if t is not None and t > 0}))


def fit_boxes(records: Iterable[Record], cfg: MethodConfig) -> FitBoxes:
    """Every GT box in network pixels with its image's feature-map sizes (`fit_search.FitBoxes`)."""
    boxes, featmaps = [], []
    for record in _sized(records):
        b = network_boxes(record, cfg).astype(np.float64)
        maps = np.asarray(input_geometry(cfg, record.width, record.height).featmap_sizes, np.int64)
        keep = ((b[:, 2:] - b[:, :2]) > 0).all(axis=1)
        boxes.append(b[keep])
        featmaps.append(np.broadcast_to(maps, (int(keep.sum()), *maps.shape)))
    if not boxes:
        return FitBoxes(np.zeros((0, 4)), np.zeros((0, len(cfg.strides), 2), np.int64))
    return FitBoxes(np.concatenate(boxes), np.concatenate(featmaps))


@dataclass(frozen=True)
class FitOutcome:
    """A search's verdict, checked on the real priors and by a real labelling pass.

    Attributes:
        overrides: nested config overrides of the suggested set, None when the preset stays best.
        criterion: what the method's assigner rewards.
        preset, fitted: the `Objective` on the real priors (fitted: of the suggested set; the
            preset's when nothing is suggested).
        labelling: `labelling_pass` of the preset and of the suggested set (``suggested`` None
            when nothing is suggested).
        evaluations: candidate sets scored by the search; checked: candidates checked for real,
            best first, until one passed.
    """

    overrides: dict | None
    criterion: Criterion
    preset: Objective
    fitted: Objective
    labelling: dict
    evaluations: int
    checked: int


CHECKED_CANDIDATES = 6     # improvements along the search path verified on real priors and labels


def fit_anchor_set(records: Sequence[Record], cfg: MethodConfig, rng: np.random.Generator, build,
                   sample: Sequence[Record], seed: int) -> FitOutcome:
    """Search `cfg`'s anchor parameters on `records`; suggest the best candidate that is better on
    the real priors (`real_objective`, its low-quality recall not lower) and, in a real labelling
    pass over `sample`, leaves no more GTs without a positive and gives no fewer positives at the
    positive IoU. Candidates are the search's accepted improvements, best first, up to
    `CHECKED_CANDIDATES` spread along that path. `build(overrides)` makes a fitted config.

    Raises:
        ValueError: the method has no anchors to fit (`fittable`).
    """
    fittable(cfg)
    space = method_of(cfg).fit_space(cfg, fit_boxes(records, cfg), rng)
    result = local_search(space)
    criterion = space.criterion
    strong = criterion.positive if criterion.score == "iou" else None
    preset = real_objective(records, cfg, criterion)
    labelling = {"preset": labelling_pass(sample, cfg, seed, strong), "suggested": None}
    path = result.path
    picks = sorted({round(i * (len(path) - 1) / max(1, CHECKED_CANDIDATES - 1)) for i in range(CHECKED_CANDIDATES)})
    checked = 0
    for index in picks if path else []:
        checked += 1
        overrides = space.overrides(path[index][0])
        fitted_cfg = build(overrides)
        fitted = real_objective(records, fitted_cfg, criterion)
        if not (fitted > preset and fitted[1] >= preset[1]):
            continue
        candidate = labelling_pass(sample, fitted_cfg, seed, strong)
        if _keeps_positives(candidate, labelling["preset"], strong):
            return FitOutcome(overrides, criterion, preset, fitted, {**labelling, "suggested": candidate},
                              result.evaluations, checked)
    return FitOutcome(None, criterion, preset, preset, labelling, result.evaluations, checked)


def _keeps_positives(candidate: dict, preset: dict, strong: float | None) -> bool:
    key = f"positives_iou>={strong:g}" if strong is not None else None
    return (candidate["gts_without_positive"] <= preset["gts_without_positive"]
            and (key is None or candidate[key] >= preset[key]))


def real_objective(records: Sequence[Record], cfg: MethodConfig, criterion: Criterion) -> Objective:
    """The `Objective` of `cfg` on the real priors (shape-ratio methods: on their own scores)."""
    if criterion.score == "iou":
        return objective(best_prior_iou(records, cfg)[1].astype(np.float64), criterion)
    space = method_of(cfg).fit_space(cfg, fit_boxes(records, cfg), np.random.default_rng(0))
    return objective(space.scores(space.start)[0], criterion)


def labelling_pass(records: Sequence[Record], cfg: MethodConfig, seed: int, positive_iou: float | None) -> dict:
    """Positives per GT from real `label_image` runs (the seed's per-image generators).

    YOLOv5 counts its loss targets (``target_gt``: every (anchor, cell) triple of a GT). With
    `positive_iou`, also the positives whose prior has IoU >= it with its GT's best (``pos_max_iou``).
    """
    gts = positives = strong = without = 0
    for record in records:
        if record.width is None or record.height is None:
            continue
        out = label_image(record.boxes, record.labels, record.ignore, record.width, record.height, cfg,
                          rng_for(seed, record.key), with_max_iou=False)
        num = len(out["gt_boxes"])
        if "target_gt" in out:
            per_gt = np.bincount(out["target_gt"], minlength=num)
        else:
            per_gt = np.bincount(out["assigned_gt"][out["pos_inds"]] - FIRST_POSITIVE, minlength=num)
        gts, positives, without = gts + num, positives + int(per_gt.sum()), without + int((per_gt == 0).sum())
        if positive_iou is not None and "pos_max_iou" in out:
            strong += int((out["pos_max_iou"] >= np.float32(positive_iou)).sum())
    row = {"images": len(records), "gts": gts, "positives": positives,
           "positives_per_gt": round(positives / gts, 3) if gts else None, "gts_without_positive": without}
    if positive_iou is not None:
        row[f"positives_iou>={positive_iou:g}"] = strong
    return row
