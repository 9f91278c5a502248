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
from samplegen.anchors.kmeans import fit_ratios, fit_relative_scales
from samplegen.anchors.prior_cache import memo
from samplegen.anchors.recipes.checks import check_coder, check_method, check_positive_strides
from samplegen.anchors.valid import assign_inside, inside_flags
from samplegen.config.build import fail

Arrays = dict[str, np.ndarray]
NAMES = ("atss",)


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


def suggest(wh: np.ndarray, cfg: AtssConfig, rng: np.random.Generator) -> dict:
    """``prior_generator`` overrides: k-means ratios, and the octave base scale as the k-means
    scale of boxes relative to their level's stride (one scale per octave, as ATSS uses)."""
    pg = cfg.prior_generator
    bases = np.asarray(pg.strides, np.float64)
    scales = pg.octave_base_scale * 2.0 ** (np.arange(pg.scales_per_octave) / pg.scales_per_octave)
    fitted = fit_relative_scales(wh, bases, scales, 1, rng)
    return {"prior_generator": {"ratios": fit_ratios(wh, len(pg.ratios), rng), "octave_base_scale": fitted[0],
                                "scales_per_octave": 1}}
