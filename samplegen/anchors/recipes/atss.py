"""atss: one square anchor per location (``AnchorGenerator``), ``ATSSAssigner`` (adaptive IoU
threshold over the nearest anchors per level, C.9), delta targets, every positive and negative
used (``PseudoSampler``). mmdet only."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors import priors as pri
from samplegen.anchors.assign.atss import assign_atss
from samplegen.anchors.coders import delta_targets
from samplegen.anchors.gt_boxes import network_gts
from samplegen.anchors.config import AtssConfig
from samplegen.anchors.fit_search import Criterion, FitBoxes, FitSpace, grid_best_iou
from samplegen.anchors.kmeans import fit_ratios, fit_relative_scales
from samplegen.anchors.prior_cache import memo
from samplegen.anchors.recipes.checks import check_coder, check_method, check_positive_strides
from samplegen.anchors.valid import assign_inside, inside_flags
from samplegen.config.build import fail

Arrays = dict[str, np.ndarray]
NAMES = ("atss",)
ATSS_FIT_IOU = 0.5      # fit-anchors judges ATSS anchors at this IoU (its threshold is adaptive)


def validate(cfg: AtssConfig, sources: Mapping[str, str]) -> None:
    check_method(cfg, NAMES, sources)
    pg = cfg.prior_generator
    check_positive_strides(pg.strides, sources)
    if pg.octave_base_scale is None or pg.scales_per_octave is None or pg.scales is not None:
        fail("prior_generator.octave_base_scale", "ATSS anchors take octave_base_scale and scales_per_octave "
             "(no scales)", sources)
    if cfg.assigner.topk <= 0:
        fail("assigner.topk", f"must be positive, got {cfg.assigner.topk}", sources)
    check_coder("coder.", cfg.coder, sources)


def geometry(cfg: AtssConfig, width: int, height: int) -> geo.InputGeometry:
    return geo.keep_ratio_geometry(width, height, cfg.input.resize_scale, cfg.input.pad_size_divisor, cfg.strides)


def priors(cfg: AtssConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    pg = cfg.prior_generator
    return pri.mmdet_anchors(g.featmap_sizes, pg.strides, pg.ratios,
                             pri.octave_scales(pg.octave_base_scale, pg.scales_per_octave), None, pg.center_offset)


def valid_priors(cfg: AtssConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`priors` and their ``allowed_border`` flags (bool [A]) for geometry `g` (cached per geometry)."""
    anchors, counts = priors(cfg, g)
    return anchors, counts, inside_flags(anchors, g.pad_shape, cfg.allowed_border)


def label(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int,
          height: int, cfg: AtssConfig, rng: np.random.Generator,
          proposals: np.ndarray | None = None,
          with_max_iou: bool = True) -> Arrays:
    g = geometry(cfg, width, height)
    gts, labels, ignores = network_gts(gt_boxes, gt_labels, ignore_boxes, width, height, g, cfg.input)
    anchors, counts, inside = memo(valid_priors, cfg, g)
    # ATSS picks its candidates per level, so the levels of the inside anchors are passed along.
    inner = counts if inside.all() else np.array([part.sum() for part in np.split(inside, np.cumsum(counts)[:-1])],
                                                 np.int32)
    a = assign_inside(anchors, inside, lambda p: assign_atss(p, inner, gts, labels, ignores, cfg.assigner.topk,
                                                             cfg.assigner.ignore_iof_thr,
                                                             cfg.assigner.center_inside_eps))
    out = delta_targets(anchors, gts, a, cfg.coder)
    out["priors_per_level"] = counts
    out.update(geo.geometry_arrays(g, gts, labels))
    return out


def fit_space(cfg: AtssConfig, fit: FitBoxes, rng: np.random.Generator) -> FitSpace:
    """``fit-anchors``: log ratios and the log octave base scale (``scales_per_octave`` kept).
    ATSS has no fixed IoU threshold (it adapts per GT), so the score is judged at IoU 0.5, the
    threshold its candidates' mean + std typically lands near, without low-quality matching."""
    pg = cfg.prior_generator
    k = len(pg.ratios)
    strides = np.asarray(pg.strides, np.float64)

    def scores(theta: np.ndarray) -> tuple[np.ndarray, None]:
        ratios = [round(float(v), 4) for v in np.exp(theta[:k])]
        octave = pri.octave_scales(round(float(np.exp(theta[k])), 4), pg.scales_per_octave)
        base, counts = pri.mmdet_anchors([(1, 1)] * len(pg.strides), pg.strides, ratios, octave, None,
                                         pg.center_offset)
        return grid_best_iou(fit, pg.strides, np.split(base, np.cumsum(counts)[:-1])), None

    def overrides(theta: np.ndarray) -> dict:
        return {"prior_generator": {"ratios": [round(float(v), 4) for v in np.exp(theta[:k])],
                                    "octave_base_scale": round(float(np.exp(theta[k])), 4)}}

    octaves = pg.octave_base_scale * 2.0 ** (np.arange(pg.scales_per_octave) / pg.scales_per_octave)
    kmeans = np.log(fit_ratios(fit.wh, k, rng) + fit_relative_scales(fit.wh, strides, octaves, 1, rng))
    start = np.log(np.concatenate([np.asarray(pg.ratios, np.float64), [pg.octave_base_scale]]))
    return FitSpace(start, (kmeans,), scores, overrides, Criterion(ATSS_FIT_IOU, None))
