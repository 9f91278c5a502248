"""fcos: points on P3-P7 (``MlvlPointGenerator``), regress ranges and optional centre sampling,
ambiguous points to the smallest box, l/t/r/b targets and centerness (``FCOSHead.get_targets``,
C.8); ``compat: torchvision``: torchvision's FCOS matching. Anchor-free: nothing to fit."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors import priors as pri
from samplegen.anchors.assign.points import assign_fcos, assign_fcos_tv, per_point
from samplegen.anchors.coders import centerness, encode_distance
from samplegen.anchors.gt_boxes import network_gts
from samplegen.anchors.config import FcosConfig
from samplegen.anchors.labels import gt_index_of, positive_mask
from samplegen.anchors.prior_cache import memo
from samplegen.anchors.recipes.checks import check_len, check_method, check_positive_strides
from samplegen.config.build import fail

Arrays = dict[str, np.ndarray]
NAMES = ("fcos",)
NOT_FITTABLE = "fcos is anchor-free: there are no anchor shapes to fit"


def validate(cfg: FcosConfig, sources: Mapping[str, str]) -> None:
    check_method(cfg, NAMES, sources)
    check_positive_strides(cfg.strides, sources)
    check_len("assigner.regress_ranges", cfg.assigner.regress_ranges, len(cfg.strides), sources)
    check_len("prior_generator.tv_sizes", cfg.prior_generator.tv_sizes, len(cfg.strides), sources)
    for lo, hi in cfg.assigner.regress_ranges:
        if lo >= hi:
            fail("assigner.regress_ranges", f"each range needs low < high, got ({lo}, {hi})", sources)
    if cfg.assigner.center_sample_radius <= 0:
        fail("assigner.center_sample_radius", f"must be positive, got {cfg.assigner.center_sample_radius}", sources)


def geometry(cfg: FcosConfig, width: int, height: int) -> geo.InputGeometry:
    return geo.keep_ratio_geometry(width, height, cfg.input.resize_scale, cfg.input.pad_size_divisor, cfg.strides)


def _tv_anchors(cfg: FcosConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    return pri.tv_anchors(g.featmap_sizes, g.pad_shape, [[s] for s in cfg.prior_generator.tv_sizes], [1.0])


def priors(cfg: FcosConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Points float32 [A, 2] (x, y) and int32 [L] counts; torchvision: its anchors' centres."""
    if cfg.compat == "torchvision":
        anchors, counts = _tv_anchors(cfg, g)
        return (anchors[:, :2] + anchors[:, 2:]) / np.float32(2), counts
    return pri.fcos_points(g.featmap_sizes, cfg.strides, cfg.prior_generator.offset)


def label(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int,
          height: int, cfg: FcosConfig, rng: np.random.Generator,
          proposals: np.ndarray | None = None,
          with_max_iou: bool = True) -> Arrays:
    """Positives with their l/t/r/b targets and centerness; FCOS has no ignore regions or IoU."""
    g = geometry(cfg, width, height)
    gts, labels, ignores = network_gts(gt_boxes, gt_labels, ignore_boxes, width, height, g, cfg.input)
    points, counts = memo(priors, cfg, g)
    strides = per_point(cfg.strides, counts)
    assigner = cfg.assigner
    if cfg.compat == "torchvision":
        a = assign_fcos_tv(memo(_tv_anchors, cfg, g)[0], counts, gts, labels, assigner.center_sample_radius)
    else:
        radius = strides * np.float32(assigner.center_sample_radius) if assigner.center_sampling else None
        a = assign_fcos(points, gts, labels, per_point(assigner.regress_ranges, counts), radius)
    pos = np.flatnonzero(positive_mask(a.assigned_gt))
    matched = gts[gt_index_of(a.assigned_gt)] if len(pos) else np.zeros((0, 4), np.float32)
    ltrb = encode_distance(points[pos], matched, strides[pos] if cfg.coder.norm_on_bbox else None)
    out = {"assigned_gt": a.assigned_gt, "labels": a.labels, "pos_inds": pos.astype(np.int32),
           "pos_targets": ltrb, "centerness": centerness(ltrb), "priors_per_level": counts}
    out.update(geo.geometry_arrays(g, gts, labels))
    return out
