"""faster_rcnn / fpn / retinanet: anchors on stride grids, MaxIoU assignment, random sampling,
delta targets; and the R-CNN stage on proposals (``stage: rcnn``).

mmdet's order of operations (reference-semantics C.2-C.7): keep-ratio resize + pad, anchors per
level (``AnchorGenerator``), valid flags (``allowed_border``), ``MaxIoUAssigner``, ``RandomSampler``
(RPN 256 at 1:1, R-CNN 512 at 1:3 with the GTs added as proposals), ``DeltaXYWHBBoxCoder``. With
``compat: torchvision`` the anchors, the ``Matcher`` and the GT order of the R-CNN stage are
torchvision's.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors import priors as pri
from samplegen.anchors.assign.max_iou import assign_max_iou
from samplegen.anchors.assign.result import Assignment
from samplegen.anchors.assign.torchvision import assign_tv_matcher
from samplegen.anchors.assign.windows import prior_grid
from samplegen.anchors.coders import delta_targets
from samplegen.anchors.gt_boxes import as_boxes, network_gts
from samplegen.anchors.config import GridAnchorConfig, MaxIoUParams
from samplegen.anchors.fit_search import Criterion, FitBoxes, FitSpace, grid_best_iou
from samplegen.anchors.kmeans import fit_ratios, fit_relative_scales
from samplegen.anchors.prior_cache import memo
from samplegen.anchors.recipes.checks import (check_assigner, check_coder, check_len, check_method,
                                              check_positive_strides, check_sampler)
from samplegen.anchors.sample import add_gt_as_proposals, prepend_gt_assignment, sample_random
from samplegen.anchors.valid import assign_inside, inside_flags
from samplegen.config.build import fail

Arrays = dict[str, np.ndarray]
NAMES = ("faster_rcnn", "fpn", "retinanet")


def validate(cfg: GridAnchorConfig, sources: Mapping[str, str]) -> None:
    check_method(cfg, NAMES, sources)
    allowed = ("dense",) if cfg.method == "retinanet" else ("rpn", "rcnn")
    if cfg.stage not in allowed:
        fail("stage", f"must be one of {list(allowed)} for {cfg.method}, got '{cfg.stage}'", sources)
    pg = cfg.prior_generator
    check_positive_strides(pg.strides, sources)
    if (pg.scales is None) == (pg.octave_base_scale is None or pg.scales_per_octave is None):
        fail("prior_generator.scales", "give either scales or octave_base_scale with scales_per_octave", sources)
    check_len("prior_generator.base_sizes", pg.base_sizes, len(pg.strides), sources)
    check_len("prior_generator.tv_sizes", pg.tv_sizes, len(pg.strides), sources)
    if cfg.compat == "torchvision" and pg.tv_sizes is None:
        fail("prior_generator.tv_sizes", "is required with compat: torchvision", sources)
    if not 0.0 <= pg.center_offset <= 1.0:
        fail("prior_generator.center_offset", f"must be in [0, 1], got {pg.center_offset}", sources)
    check_assigner("assigner.", cfg.assigner, sources)
    check_coder("coder.", cfg.coder, sources)
    check_sampler("sampler.", cfg.sampler, sources)
    if cfg.stage == "rcnn":
        if cfg.rcnn is None:
            fail("rcnn", "is required with stage: rcnn", sources)
        check_assigner("rcnn.assigner.", cfg.rcnn.assigner, sources)
        check_sampler("rcnn.sampler.", cfg.rcnn.sampler, sources)
        check_coder("rcnn.coder.", cfg.rcnn.coder, sources)
        if cfg.rcnn.sampler.type != "random":
            fail("rcnn.sampler.type", "must be random (the R-CNN stage samples 512 proposals)", sources)


def geometry(cfg: GridAnchorConfig, width: int, height: int) -> geo.InputGeometry:
    return geo.keep_ratio_geometry(width, height, cfg.input.resize_scale, cfg.input.pad_size_divisor, cfg.strides)


def anchor_scales(cfg: GridAnchorConfig) -> np.ndarray:
    """The scales of every level: explicit, or ``octave_base_scale * 2^(i / scales_per_octave)``."""
    pg = cfg.prior_generator
    if pg.scales is not None:
        return np.asarray(pg.scales, np.float64)
    return pri.octave_scales(pg.octave_base_scale, pg.scales_per_octave)


def priors(cfg: GridAnchorConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Anchors float32 [A, 4] and int32 [L] counts (mmdet ``AnchorGenerator`` or torchvision's)."""
    pg = cfg.prior_generator
    if cfg.compat == "torchvision":
        return pri.tv_anchors(g.featmap_sizes, g.pad_shape, pg.tv_sizes, pg.ratios)
    return pri.mmdet_anchors(g.featmap_sizes, pg.strides, pg.ratios, anchor_scales(cfg), pg.base_sizes,
                             pg.center_offset)


def valid_priors(cfg: GridAnchorConfig, g: geo.InputGeometry) -> tuple:
    """`priors`, their ``allowed_border`` flags (bool [A]) and, when all are inside, their cell
    layout for windowed IoU (`windows.prior_grid`), for geometry `g` (cached per geometry)."""
    anchors, counts = priors(cfg, g)
    inside = inside_flags(anchors, g.pad_shape, cfg.allowed_border)
    layout = prior_grid(anchors, counts, g.featmap_sizes) if inside.all() else None
    return anchors, counts, inside, layout


def _assign(priors_: np.ndarray, gts: np.ndarray, labels: np.ndarray, ignores: np.ndarray,
            cfg: GridAnchorConfig, assigner: MaxIoUParams, layout: tuple | None = None,
            exact_max_iou: bool = True) -> Assignment:
    """MaxIoU (mmdet) or torchvision ``Matcher(pos, neg, low-quality)`` on `priors_` (`layout`:
    their cells, for windowed IoU; None for proposals or a subset of the anchors; see
    `assign_max_iou` for `exact_max_iou`)."""
    if cfg.compat == "mmdet":
        return assign_max_iou(priors_, gts, labels, ignores, assigner, grid=layout, exact_max_iou=exact_max_iou)
    neg = assigner.neg_iou_thr
    low = neg[1] if isinstance(neg, tuple) else neg
    return assign_tv_matcher(priors_, gts, labels, assigner.pos_iou_thr, low, assigner.match_low_quality,
                             grid=layout)


def label(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int,
          height: int, cfg: GridAnchorConfig, rng: np.random.Generator,
          proposals: np.ndarray | None = None,
          with_max_iou: bool = True) -> Arrays:
    """Anchors (``stage: rpn|dense``) or `proposals` float32 [N, 4] (``stage: rcnn``); inputs in
    original pixels, outputs in network-input pixels (`samplegen.anchors.methods` contract).
    Without `with_max_iou` the returned ``max_iou`` need only be exact at the positives."""
    g = geometry(cfg, width, height)
    gts, labels, ignores = network_gts(gt_boxes, gt_labels, ignore_boxes, width, height, g, cfg.input)
    if cfg.stage == "rcnn":
        if proposals is None:
            raise ValueError("stage rcnn labels proposals: pass proposals [N, 4]")
        props = geo.scale_boxes(as_boxes(proposals, "proposals"), g, True)
        out = _label_rcnn(props, gts, labels, ignores, cfg, rng)
    else:
        anchors, counts, inside, layout = memo(valid_priors, cfg, g)
        a = assign_inside(anchors, inside, lambda p: _assign(p, gts, labels, ignores, cfg, cfg.assigner, layout,
                                                             with_max_iou))
        out = delta_targets(anchors, gts, a, cfg.coder)
        if cfg.sampler.type == "random":
            out["sampled"] = sample_random(a.assigned_gt, cfg.sampler, rng).mask(len(anchors))
        out["priors_per_level"] = counts
    out.update(geo.geometry_arrays(g, gts, labels))
    if cfg.roi_level is not None:
        out["gt_level"] = roi_levels(gts, cfg.roi_level.canonical_scale, cfg.roi_level.canonical_level,
                                     cfg.roi_level.levels)
    return out


def _label_rcnn(props: np.ndarray, gts: np.ndarray, labels: np.ndarray, ignores: np.ndarray,
                cfg: GridAnchorConfig, rng: np.random.Generator) -> Arrays:
    """R-CNN stage: assign proposals, add the GTs as proposals, random-sample 512 at 1:3.

    mmdet prepends the GTs; with ``compat: torchvision`` they are appended and assigned together
    with the proposals (torchvision ``add_gt_proposals``).
    """
    stage = cfg.rcnn
    with_gt = stage.sampler.add_gt_as_proposals and len(gts) > 0
    if cfg.compat == "torchvision":
        rows = np.concatenate([props, gts]) if with_gt else props
        a = _assign(rows, gts, labels, ignores, cfg, stage.assigner)
    else:
        rows = add_gt_as_proposals(props, gts) if with_gt else props
        a = assign_max_iou(props, gts, labels, ignores, stage.assigner)
        a = prepend_gt_assignment(a, labels) if with_gt else a
    out = delta_targets(rows, gts, a, stage.coder)
    out["sampled"] = sample_random(a.assigned_gt, stage.sampler, rng).mask(len(rows))
    out["priors_per_level"] = np.array([len(rows)], np.int32)
    return out


def roi_levels(gts: np.ndarray, canonical_scale: float, canonical_level: int,
               levels: tuple[int, int]) -> np.ndarray:
    """FPN RoI level per box, int32 [G]: ``floor(k0 + log2(sqrt(w h) / 224))`` clamped (C.12).

    Computed in float64 from the float32 boxes; a zero-area box goes to the lowest level.
    """
    b = gts.astype(np.float64)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(divide="ignore"):
        k = np.floor(canonical_level + np.log2(np.sqrt(np.maximum(area, 0)) / canonical_scale))
    return np.clip(k, levels[0], levels[1]).astype(np.int32)


def fit_space(cfg: GridAnchorConfig, fit: FitBoxes, rng: np.random.Generator) -> FitSpace:
    """``fit-anchors``: log ratios and log scales (their counts kept), scored by the best IoU on
    the method's grid against ``assigner.pos_iou_thr`` / ``min_pos_iou``; the k-means ratios and
    level-relative scales are the extra start. Suggested as explicit ``scales``."""
    pos_thr = cfg.assigner.pos_iou_thr
    pg = cfg.prior_generator
    scales = np.asarray(anchor_scales(cfg), np.float64)
    k = len(pg.ratios)

    def config_of(theta: np.ndarray) -> tuple[list[float], list[float]]:
        # sorted: the same anchor set, in the conventional order
        return (sorted(round(float(v), 4) for v in np.exp(theta[:k])),
                sorted(round(float(v), 4) for v in np.exp(theta[k:])))

    def scores(theta: np.ndarray) -> tuple[np.ndarray, int]:
        ratios, scale_list = config_of(theta)
        base, counts = pri.mmdet_anchors([(1, 1)] * len(pg.strides), pg.strides, ratios, scale_list,
                                         pg.base_sizes, pg.center_offset)
        best, counts = grid_best_iou(fit, pg.strides, np.split(base, np.cumsum(counts)[:-1]),
                                    count_over=pos_thr)
        return best, int(counts.sum())

    def overrides(theta: np.ndarray) -> dict:
        ratios, scale_list = config_of(theta)
        return {"prior_generator": {"ratios": ratios, "scales": scale_list, "octave_base_scale": None,
                                    "scales_per_octave": None}}

    bases = np.asarray(pg.base_sizes or pg.strides, np.float64)
    kmeans = np.log(np.concatenate([fit_ratios(fit.wh, k, rng), fit_relative_scales(fit.wh, bases, scales,
                                                                                      len(scales), rng)]))
    start = np.log(np.concatenate([np.asarray(pg.ratios, np.float64), scales]))
    a = cfg.assigner
    return FitSpace(start, (kmeans,), scores, overrides,
                    Criterion(a.pos_iou_thr, a.min_pos_iou if a.match_low_quality else None))
