"""Method recipes: input geometry -> priors -> assign -> sample -> encode, one image at a time.

`label_image` is the public entry: it returns the per-image npz contract of issue 4 as a dict of
numpy arrays. `priors_for` gives the priors (or points) an image of a given size is labelled
against, in the same order. Which recipe runs is decided by the config's dataclass type (the
method *name* was resolved once, in `samplegen.anchors.config.METHODS`).

Output keys (A priors, P positives, G boxes, L levels):

* ``assigned_gt`` int32 [A]: NEGATIVE 0, IGNORE -1, k + 1 = positive on GT k (`labels.py`);
* ``labels`` int32 [A]: the matched GT's class for positives, NO_LABEL -1 otherwise;
* ``max_iou`` float32 [A]: IoU methods only (faster_rcnn, fpn, retinanet, ssd, atss);
* ``sampled`` bool [A]: where a sampler runs (RPN / R-CNN random sampler, SSD ``neg_sampling:
  random``);
* ``pos_inds`` int32 [P] (ascending), ``pos_targets`` float32 [P, 4] (deltas, or l/t/r/b for FCOS),
  ``centerness`` float32 [P] (FCOS);
* ``priors_per_level`` int32 [L] (the R-CNN stage has one "level": its G + N rows);
* ``img_shape``, ``pad_shape`` int32 [2] (h, w); ``scale_factor`` float64 [2] (w, h);
* ``gt_boxes`` float32 [G, 4], ``gt_labels`` int32 [G] in network-input pixels;
* ``gt_level`` int32 [G] (fpn): FPN paper RoI level ``floor(4 + log2(sqrt(wh) / 224))`` in [2, 5];
* ``neg_budget`` int32 [] (ssd): the 3:1 hard-negative budget ``min(3 P, A - P)``.
"""
from __future__ import annotations

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors import priors as pri
from samplegen.anchors.assign import (Assignment, assign_max_iou, assign_tv_matcher,
                                      assign_tv_ssd_matcher)
from samplegen.anchors.assign_atss import assign_atss
from samplegen.anchors.assign_points import assign_fcos, assign_fcos_tv, per_point
from samplegen.anchors.coders import centerness, encode_delta_xywh, encode_distance
from samplegen.anchors.config import (AtssConfig, FcosConfig, GridAnchorConfig, MethodConfig, SsdConfig,
                                      coder_params, rcnn_assigner, rcnn_sampler, rpn_assigner,
                                      rpn_sampler)
from samplegen.anchors.labels import FIRST_POSITIVE, IGNORE, NEGATIVE, NO_LABEL
from samplegen.anchors.sample import (Sample, add_gt_as_proposals, neg_budget,
                                      prepend_gt_assignment, random_choice,
                                      sample_random)

Arrays = dict[str, np.ndarray]


def input_geometry(cfg: MethodConfig, width: int, height: int) -> geo.InputGeometry:
    """How `cfg`'s network sees an image of ``width x height`` (C.2)."""
    if isinstance(cfg, SsdConfig):
        return geo.warp_geometry(width, height, (cfg.input_size, cfg.input_size), cfg.featmap_sizes)
    return geo.keep_ratio_geometry(width, height, cfg.resize_scale, cfg.pad_size_divisor, cfg.strides)


def ssd_min_max_sizes(cfg: SsdConfig) -> tuple[list[float], list[float]]:
    """SSD min/max sizes: explicit lists, or derived from the VOC / COCO ratio range (C.4)."""
    if cfg.sizes == "explicit":
        return list(cfg.min_sizes), list(cfg.max_sizes)
    ratio_range = cfg.voc_basesize_ratio_range if cfg.sizes == "voc" else cfg.coco_basesize_ratio_range
    return pri.ssd_sizes(cfg.input_size, tuple(ratio_range), len(cfg.strides))


def geometry_priors(cfg: MethodConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Priors float32 [A, 4] (points [A, 2] for fcos) and int32 [L] counts for geometry `g`."""
    tv = cfg.compat == "torchvision"
    if isinstance(cfg, AtssConfig):
        return pri.mmdet_anchors(g.featmap_sizes, cfg.strides, cfg.ratios,
                                 pri.octave_scales(cfg.octave_base_scale, cfg.scales_per_octave), None,
                                 cfg.center_offset)
    if isinstance(cfg, GridAnchorConfig):
        if tv:
            return pri.tv_anchors(g.featmap_sizes, g.pad_shape, cfg.tv_sizes, cfg.ratios)
        scales = cfg.scales if cfg.scales is not None else pri.octave_scales(cfg.octave_base_scale,
                                                                              cfg.scales_per_octave)
        return pri.mmdet_anchors(g.featmap_sizes, cfg.strides, cfg.ratios, scales, cfg.base_sizes,
                                 cfg.center_offset)
    if isinstance(cfg, SsdConfig):
        if tv:
            return pri.tv_default_boxes(g.featmap_sizes, cfg.strides, cfg.ratios, cfg.tv_scales,
                                        g.pad_shape, cfg.tv_clip)
        min_sizes, max_sizes = ssd_min_max_sizes(cfg)
        return pri.ssd_priors(g.featmap_sizes, cfg.strides, cfg.ratios, min_sizes, max_sizes)
    if tv:
        anchors, counts = pri.tv_anchors(g.featmap_sizes, g.pad_shape, [[s] for s in cfg.tv_sizes], [1.0])
        return (anchors[:, :2] + anchors[:, 2:]) / np.float32(2), counts
    return pri.fcos_points(g.featmap_sizes, cfg.strides, cfg.point_offset)


def priors_for(cfg: MethodConfig, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The priors `label_image` uses for an image of ``height x width`` (original pixels).

    Returns:
        priors float32 [A, 4] x1 y1 x2 y2 (FCOS: points float32 [A, 2] x y; with ``compat:
        torchvision`` the centres of torchvision's FCOS anchors) and priors_per_level int32 [L].
    """
    return geometry_priors(cfg, input_geometry(cfg, width, height))


def label_image(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray, width: int,
                height: int, cfg: MethodConfig, rng: np.random.Generator,
                proposals: np.ndarray | None = None) -> Arrays:
    """Label one image exactly as `cfg`'s detector does at training time.

    Args:
        gt_boxes: float32 [G, 4] x1 y1 x2 y2 in original image pixels (crowd / difficult boxes
            excluded); gt_labels: int [G] class ids. With ``drop_outside_gt`` boxes that do not
            overlap the image are left out (`overlaps_image`); the output ``gt_boxes`` /
            ``gt_labels`` and the 1-based indices refer to the kept boxes.
        ignore_boxes: float32 [M, 4] crowd / difficult boxes, original pixels; they act as
            ignore regions only when ``ignore_iof_thr > 0`` (otherwise they are left out, as in
            mmdetection's configs).
        width, height: original image size.
        cfg: a method config from `load_method_config`.
        rng: the image's generator (`samplegen.rng.rng_for`); used only by samplers.
        proposals: float32 [N, 4] boxes in original pixels, required for ``stage: rcnn``.

    Returns:
        The npz contract described in the module docstring.

    Raises:
        ValueError: ``stage: rcnn`` without proposals, or malformed box arrays.
    """
    g = input_geometry(cfg, width, height)
    clip = cfg.clip_object_border
    original = _boxes(gt_boxes, "gt_boxes")
    labels = np.asarray(gt_labels, dtype=np.int32).reshape(-1)
    if len(labels) != len(original):
        raise ValueError(f"gt_labels has {len(labels)} entries for {len(original)} boxes")
    if cfg.drop_outside_gt:
        keep = overlaps_image(original, width, height)
        original, labels = original[keep], labels[keep]
    gts = geo.scale_boxes(original, g, clip)
    ignores = geo.scale_boxes(_boxes(ignore_boxes, "ignore_boxes"), g, clip)
    if isinstance(cfg, GridAnchorConfig):
        if cfg.stage == "rcnn":
            if proposals is None:
                raise ValueError("stage rcnn labels proposals: pass proposals [N, 4]")
            props = geo.scale_boxes(_boxes(proposals, "proposals"), g, True)
            out = _label_rcnn(props, gts, labels, ignores, cfg, rng)
        else:
            out = _label_grid(gts, labels, ignores, g, cfg, rng)
    elif isinstance(cfg, SsdConfig):
        out = _label_ssd(gts, labels, ignores, g, cfg, rng)
    elif isinstance(cfg, AtssConfig):
        out = _label_atss(gts, labels, ignores, g, cfg)
    else:
        out = _label_fcos(gts, labels, g, cfg)
    out.update(_geometry_arrays(g, gts, labels))
    if isinstance(cfg, GridAnchorConfig) and cfg.gt_level:
        out["gt_level"] = roi_levels(gts, cfg.roi_canonical_scale, cfg.roi_canonical_level, cfg.roi_levels)
    return out


def overlaps_image(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """bool [G]: boxes with a non-empty intersection with the image (original pixels).

    mmdet ``CocoDataset.parse_data_info`` skips a box when ``max(0, min(x2, W) - max(x1, 0)) *
    max(0, min(y2, H) - max(y1, 0)) == 0``; kept, it would clip to zero area and tie with every
    prior at IoU 0 (mmdet #8289). Applied when ``drop_outside_gt`` is set.
    """
    b = boxes.astype(np.float64)
    inter_w = np.maximum(0.0, np.minimum(b[:, 2], width) - np.maximum(b[:, 0], 0.0))
    inter_h = np.maximum(0.0, np.minimum(b[:, 3], height) - np.maximum(b[:, 1], 0.0))
    return inter_w * inter_h > 0


def _boxes(boxes: np.ndarray | None, name: str) -> np.ndarray:
    arr = np.zeros((0, 4), np.float32) if boxes is None else np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4], got {arr.shape}")
    return arr


def _geometry_arrays(g: geo.InputGeometry, gts: np.ndarray, labels: np.ndarray) -> Arrays:
    return {"img_shape": np.array(g.img_shape, np.int32), "pad_shape": np.array(g.pad_shape, np.int32),
            "scale_factor": np.array(g.scale_factor, np.float64), "gt_boxes": gts, "gt_labels": labels}


def inside_flags(priors: np.ndarray, shape: tuple[int, int], allowed_border: float) -> np.ndarray:
    """bool [A]: mmdet ``anchor_inside_flags`` for a single (unbatched) image (C.2).

    ``allowed_border < 0``: all True. Otherwise ``x1 >= -ab, y1 >= -ab, x2 < W + ab, y2 < H + ab``
    with (H, W) = `shape`; mmdet 3.x checks against the padded shape (its ``img_shape`` is
    overwritten by ``Pad``), so callers pass ``pad_shape``.
    """
    if allowed_border < 0:
        return np.ones(len(priors), dtype=bool)
    ab = np.float32(allowed_border)
    h, w = shape
    return ((priors[:, 0] >= -ab) & (priors[:, 1] >= -ab) & (priors[:, 2] < np.float32(w) + ab)
            & (priors[:, 3] < np.float32(h) + ab))


def _assign_inside(priors: np.ndarray, inside: np.ndarray, assign) -> Assignment:
    """Run `assign` on the inside priors only; outside ones become IGNORE with max_iou 0."""
    if inside.all():
        return assign(priors)
    part = assign(priors[inside])
    assigned = np.full(len(priors), IGNORE, np.int32)
    max_iou = np.zeros(len(priors), np.float32)
    labels = np.full(len(priors), NO_LABEL, np.int32)
    assigned[inside], max_iou[inside], labels[inside] = part.assigned_gt, part.max_iou, part.labels
    return Assignment(assigned, max_iou, labels)


def _assign_iou(priors: np.ndarray, gts: np.ndarray, labels: np.ndarray, ignores: np.ndarray,
                cfg: GridAnchorConfig | SsdConfig, params) -> Assignment:
    """MaxIoU (mmdet) or Matcher / SSDMatcher (torchvision) on `priors`."""
    if cfg.compat == "mmdet":
        return assign_max_iou(priors, gts, labels, ignores, params)
    if isinstance(cfg, SsdConfig):
        return assign_tv_ssd_matcher(priors, gts, labels, params.pos_iou_thr)
    return assign_tv_matcher(priors, gts, labels, params.pos_iou_thr, _low(params.neg_iou_thr),
                             params.match_low_quality)


def _low(neg_iou_thr: float | tuple[float, float]) -> float:
    return neg_iou_thr[1] if isinstance(neg_iou_thr, tuple) else neg_iou_thr


def _targets(priors: np.ndarray, gts: np.ndarray, a: Assignment, cfg, stage: str) -> Arrays:
    pos = np.flatnonzero(a.assigned_gt >= FIRST_POSITIVE)
    coder = coder_params(cfg, stage)
    matched = gts[a.assigned_gt[pos] - FIRST_POSITIVE] if len(pos) else np.zeros((0, 4), np.float32)
    deltas = encode_delta_xywh(priors[pos], matched, coder.target_means, coder.target_stds)
    return {"assigned_gt": a.assigned_gt, "labels": a.labels, "max_iou": a.max_iou,
            "pos_inds": pos.astype(np.int32), "pos_targets": deltas.astype(np.float32)}


def _label_grid(gts: np.ndarray, labels: np.ndarray, ignores: np.ndarray, g: geo.InputGeometry,
                cfg: GridAnchorConfig, rng: np.random.Generator) -> Arrays:
    anchors, counts = geometry_priors(cfg, g)
    inside = inside_flags(anchors, g.pad_shape, cfg.allowed_border)
    params = rpn_assigner(cfg)
    a = _assign_inside(anchors, inside, lambda p: _assign_iou(p, gts, labels, ignores, cfg, params))
    out = _targets(anchors, gts, a, cfg, "rpn")
    if cfg.sampler == "random":
        out["sampled"] = sample_random(a.assigned_gt, rpn_sampler(cfg), rng).mask(len(anchors))
    out["priors_per_level"] = counts
    return out


def _label_rcnn(props: np.ndarray, gts: np.ndarray, labels: np.ndarray, ignores: np.ndarray,
                cfg: GridAnchorConfig, rng: np.random.Generator) -> Arrays:
    """R-CNN stage: assign proposals, add the GTs as proposals, random-sample 512 at 1:3.

    mmdet prepends the GTs; with ``compat: torchvision`` they are appended and assigned together
    with the proposals (torchvision ``add_gt_proposals``).
    """
    params = rcnn_assigner(cfg)
    with_gt = cfg.rcnn_add_gt_as_proposals and len(gts) > 0
    if cfg.compat == "torchvision":
        rows = np.concatenate([props, gts]) if with_gt else props
        a = _assign_iou(rows, gts, labels, ignores, cfg, params)
    else:
        rows = add_gt_as_proposals(props, gts) if with_gt else props
        a = assign_max_iou(props, gts, labels, ignores, params)
        a = prepend_gt_assignment(a, labels) if with_gt else a
    out = _targets(rows, gts, a, cfg, "rcnn")
    out["sampled"] = sample_random(a.assigned_gt, rcnn_sampler(cfg), rng).mask(len(rows))
    out["priors_per_level"] = np.array([len(rows)], np.int32)
    return out


def _label_ssd(gts: np.ndarray, labels: np.ndarray, ignores: np.ndarray, g: geo.InputGeometry,
               cfg: SsdConfig, rng: np.random.Generator) -> Arrays:
    """SSD: every prior labelled; the 3:1 mining budget is recorded, not applied (C.6).

    ``neg_sampling: random`` additionally marks all positives and ``neg_budget`` uniformly drawn
    negatives as ``sampled``: an explicit offline approximation of hard-negative mining.
    """
    boxes, counts = geometry_priors(cfg, g)
    inside = inside_flags(boxes, g.pad_shape, cfg.allowed_border)
    params = rpn_assigner(cfg)
    a = _assign_inside(boxes, inside, lambda p: _assign_iou(p, gts, labels, ignores, cfg, params))
    out = _targets(boxes, gts, a, cfg, "rpn")
    num_pos = len(out["pos_inds"])
    budget = neg_budget(num_pos, len(boxes) - num_pos, cfg.neg_pos_ratio)
    out["neg_budget"] = np.array(budget, np.int32)
    if cfg.neg_sampling == "random":
        negs = random_choice(np.flatnonzero(a.assigned_gt == NEGATIVE), budget, rng)
        out["sampled"] = Sample(out["pos_inds"].astype(np.int64), negs).mask(len(boxes))
    out["priors_per_level"] = counts
    return out


def _label_atss(gts: np.ndarray, labels: np.ndarray, ignores: np.ndarray, g: geo.InputGeometry,
                cfg: AtssConfig) -> Arrays:
    """ATSS: one anchor per location, adaptive threshold (C.9); every positive and negative used."""
    anchors, counts = geometry_priors(cfg, g)
    inside = inside_flags(anchors, g.pad_shape, cfg.allowed_border)
    if inside.all():
        a = assign_atss(anchors, counts, gts, labels, ignores, cfg.topk, cfg.ignore_iof_thr, cfg.center_inside_eps)
    else:
        inner_counts = np.array([part.sum() for part in np.split(inside, np.cumsum(counts)[:-1])], np.int32)
        a = _assign_inside(anchors, inside, lambda p: assign_atss(p, inner_counts, gts, labels, ignores, cfg.topk,
                                                                    cfg.ignore_iof_thr, cfg.center_inside_eps))
    out = _targets(anchors, gts, a, cfg, "rpn")
    out["priors_per_level"] = counts
    return out


def _label_fcos(gts: np.ndarray, labels: np.ndarray, g: geo.InputGeometry, cfg: FcosConfig) -> Arrays:
    """FCOS: points, range / centre-sampling assignment, l/t/r/b targets and centerness (C.8)."""
    points, counts = geometry_priors(cfg, g)
    strides = per_point(cfg.strides, counts)
    if cfg.compat == "torchvision":
        anchors, _ = pri.tv_anchors(g.featmap_sizes, g.pad_shape, [[s] for s in cfg.tv_sizes], [1.0])
        a = assign_fcos_tv(anchors, counts, gts, labels, cfg.center_sample_radius)
    else:
        radius = strides * np.float32(cfg.center_sample_radius) if cfg.center_sampling else None
        a = assign_fcos(points, gts, labels, per_point(cfg.regress_ranges, counts), radius)
    pos = np.flatnonzero(a.assigned_gt >= FIRST_POSITIVE)
    ltrb = encode_distance(points[pos], gts[a.assigned_gt[pos] - FIRST_POSITIVE] if len(pos) else
                           np.zeros((0, 4), np.float32), strides[pos] if cfg.norm_on_bbox else None)
    return {"assigned_gt": a.assigned_gt, "labels": a.labels, "pos_inds": pos.astype(np.int32),
            "pos_targets": ltrb, "centerness": centerness(ltrb), "priors_per_level": counts}


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
