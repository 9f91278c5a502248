"""ssd300 / ssd512: default boxes on fixed maps of a warped square input, MaxIoU (0.5, 0.5, each
GT's best prior forced), delta targets with variances, and the 3:1 hard-negative budget.

mmdet: ``SSDAnchorGenerator`` + ``MaxIoUAssigner`` + ``PseudoSampler`` (C.4-C.6); torchvision
(``compat: torchvision``): ``DefaultBoxGenerator`` + ``SSDMatcher``.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors import priors as pri
from samplegen.anchors.assign.max_iou import assign_max_iou
from samplegen.anchors.assign.torchvision import assign_tv_ssd_matcher
from samplegen.anchors.assign.windows import prior_grid
from samplegen.anchors.coders import delta_targets
from samplegen.anchors.gt_boxes import network_gts
from samplegen.anchors.config import SsdConfig
from samplegen.anchors.fit_search import Criterion, FitBoxes, FitSpace, grid_best_iou
from samplegen.anchors.kmeans import kmeans_iou
from samplegen.anchors.labels import NEGATIVE
from samplegen.anchors.prior_cache import memo
from samplegen.anchors.recipes.checks import check_assigner, check_coder, check_len, check_method
from samplegen.anchors.sample import Sample, neg_budget, random_choice
from samplegen.anchors.valid import assign_inside, inside_flags
from samplegen.config.build import fail

Arrays = dict[str, np.ndarray]
NAMES = ("ssd300", "ssd512")


def validate(cfg: SsdConfig, sources: Mapping[str, str]) -> None:
    check_method(cfg, NAMES, sources)
    pg = cfg.prior_generator
    levels = len(pg.strides)
    for key in ("featmap_sizes", "ratios"):
        check_len(f"prior_generator.{key}", getattr(pg, key), levels, sources)
    check_len("prior_generator.tv_scales", pg.tv_scales, levels + 1, sources)
    explicit = pg.min_sizes is not None or pg.max_sizes is not None
    if (pg.sizes == "explicit") != explicit or (explicit and None in (pg.min_sizes, pg.max_sizes)):
        fail("prior_generator.sizes", "'explicit' goes with both min_sizes and max_sizes, 'voc'/'coco' "
             "with neither", sources)
    check_len("prior_generator.min_sizes", pg.min_sizes, levels, sources)
    check_len("prior_generator.max_sizes", pg.max_sizes, levels, sources)
    check_assigner("assigner.", cfg.assigner, sources)
    check_coder("coder.", cfg.coder, sources)
    if cfg.neg_mining.neg_pos_ratio < 0:
        fail("neg_mining.neg_pos_ratio", f"must be >= 0, got {cfg.neg_mining.neg_pos_ratio}", sources)


def geometry(cfg: SsdConfig, width: int, height: int) -> geo.InputGeometry:
    size = cfg.input.size
    return geo.warp_geometry(width, height, (size, size), cfg.prior_generator.featmap_sizes)


def min_max_sizes(cfg: SsdConfig) -> tuple[list[float], list[float]]:
    """SSD min/max sizes: explicit lists, or derived from the VOC / COCO ratio range (C.4)."""
    pg = cfg.prior_generator
    if pg.sizes == "explicit":
        return list(pg.min_sizes), list(pg.max_sizes)
    ratio_range = pg.voc_basesize_ratio_range if pg.sizes == "voc" else pg.coco_basesize_ratio_range
    return pri.ssd_sizes(cfg.input.size, tuple(ratio_range), len(pg.strides))


def priors(cfg: SsdConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    pg = cfg.prior_generator
    if cfg.compat == "torchvision":
        return pri.tv_default_boxes(g.featmap_sizes, pg.strides, pg.ratios, pg.tv_scales, g.pad_shape, pg.tv_clip)
    min_sizes, max_sizes = min_max_sizes(cfg)
    return pri.ssd_priors(g.featmap_sizes, pg.strides, pg.ratios, min_sizes, max_sizes)


def valid_priors(cfg: SsdConfig, g: geo.InputGeometry) -> tuple:
    """`priors`, their ``allowed_border`` flags (bool [A]) and, when all are inside, their cell
    layout for windowed IoU (`windows.prior_grid`), for geometry `g` (cached per geometry)."""
    boxes, counts = priors(cfg, g)
    inside = inside_flags(boxes, g.pad_shape, cfg.allowed_border)
    layout = prior_grid(boxes, counts, g.featmap_sizes) if inside.all() else None
    return boxes, counts, inside, layout


def label(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int,
          height: int, cfg: SsdConfig, rng: np.random.Generator,
          proposals: np.ndarray | None = None,
          with_max_iou: bool = True) -> Arrays:
    """SSD: every prior labelled; the 3:1 mining budget is recorded, not applied (C.6).

    ``neg_mining.sampling: random`` additionally marks all positives and ``neg_budget`` uniformly
    drawn negatives as ``sampled``: an explicit offline approximation of hard-negative mining.
    """
    g = geometry(cfg, width, height)
    gts, labels, ignores = network_gts(gt_boxes, gt_labels, ignore_boxes, width, height, g, cfg.input)
    boxes, counts, inside, layout = memo(valid_priors, cfg, g)
    if cfg.compat == "mmdet":
        assign = lambda p: assign_max_iou(p, gts, labels, ignores, cfg.assigner, grid=layout,  # noqa: E731
                                          exact_max_iou=with_max_iou)
    else:
        assign = lambda p: assign_tv_ssd_matcher(p, gts, labels, cfg.assigner.pos_iou_thr, grid=layout)  # noqa: E731
    a = assign_inside(boxes, inside, assign)
    out = delta_targets(boxes, gts, a, cfg.coder)
    num_pos = len(out["pos_inds"])
    budget = neg_budget(num_pos, len(boxes) - num_pos, cfg.neg_mining.neg_pos_ratio)
    out["neg_budget"] = np.array(budget, np.int32)
    if cfg.neg_mining.sampling == "random":
        negs = random_choice(np.flatnonzero(a.assigned_gt == NEGATIVE), budget, rng)
        out["sampled"] = Sample(out["pos_inds"].astype(np.int64), negs).mask(len(boxes))
    out["priors_per_level"] = counts
    out.update(geo.geometry_arrays(g, gts, labels))
    return out


def fit_space(cfg: SsdConfig, fit: FitBoxes, rng: np.random.Generator) -> FitSpace:
    """``fit-anchors``: log ``min_sizes`` and log ``max / min`` per level (ratios kept), scored
    by the best IoU against ``pos_iou_thr`` and ``min_pos_iou`` (each GT's best prior is forced);
    the extra start fits each level's min size to the boxes nearest it (k-means, k = 1)."""
    pos_thr = cfg.assigner.pos_iou_thr
    pg = cfg.prior_generator
    levels = len(pg.strides)
    min_sizes, max_sizes = (np.asarray(v, np.float64) for v in min_max_sizes(cfg))

    def sizes_of(theta: np.ndarray) -> tuple[list[float], list[float]]:
        mins = np.maximum.accumulate(np.round(np.exp(theta[:levels]), 2))    # coarser levels, larger boxes
        return mins.tolist(), np.round(mins * np.exp(np.maximum(theta[levels:], 0.01)), 2).tolist()

    def scores(theta: np.ndarray) -> tuple[np.ndarray, int]:
        mins, maxs = sizes_of(theta)
        base, counts = pri.ssd_priors([(1, 1)] * levels, pg.strides, pg.ratios, mins, maxs)
        best, counts = grid_best_iou(fit, pg.strides, np.split(base, np.cumsum(counts)[:-1]),
                                    count_over=pos_thr)
        return best, int(counts.sum())

    def overrides(theta: np.ndarray) -> dict:
        mins, maxs = sizes_of(theta)
        return {"prior_generator": {"sizes": "explicit", "min_sizes": mins, "max_sizes": maxs}}

    size = np.sqrt(fit.wh[:, 0] * fit.wh[:, 1])
    nearest = np.abs(np.log(np.maximum(size, 1e-6)[:, None] / min_sizes[None, :])).argmin(axis=1)
    kmeans = min_sizes.copy()
    for lvl in range(levels):
        members = size[nearest == lvl]
        if members.shape[0]:
            kmeans[lvl] = kmeans_iou(np.stack([members, members], axis=1), 1, rng)[0, 0]
    factor = np.log(max_sizes / min_sizes)
    a = cfg.assigner
    low = a.min_pos_iou if a.match_low_quality else None
    return FitSpace(np.concatenate([np.log(min_sizes), factor]), (np.concatenate([np.log(kmeans), factor]),),
                    scores, overrides, Criterion(a.pos_iou_thr, low))
