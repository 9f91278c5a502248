"""Typed, validated configuration of the anchor / point methods, and the method name table.

Every number that changes what is labelled (strides, ratios, thresholds, budgets, stds) comes from
a preset in ``configs/anchors/<name>.yaml``; the dataclasses below have no defaults for them. The
presets are flat: keys are the dataclass field names (and the CLI option names). `METHODS` is the
only place a method name is turned into a preset and a dataclass.

Four families:

* `GridAnchorConfig` - anchors on a stride grid with MaxIoU assignment: ``faster_rcnn`` (C4,
  single level), ``fpn`` (P2-P6), ``retinanet`` (P3-P7, no sampler);
* `SsdConfig` - SSD default boxes on fixed maps of a warped square input: ``ssd300``, ``ssd512``;
* `FcosConfig` - points with FCOS range / centre-sampling targets: ``fcos``;
* `AtssConfig` - one anchor per location with ATSS's adaptive threshold: ``atss``.

Small parameter bundles (`MaxIoUParams`, `SamplerParams`, `CoderParams`) are what the pure core
functions take; `*_params` functions cut them out of a method config.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, Mapping

from samplegen.config import Layered, build_dataclass, load_preset
from samplegen.errors import ConfigError

Compat = Literal["mmdet", "torchvision"]
Quad = tuple[float, float, float, float]


@dataclass(frozen=True)
class MaxIoUParams:
    """mmdet ``MaxIoUAssigner`` arguments (reference-semantics C.5); see `assign_max_iou`."""

    pos_iou_thr: float
    neg_iou_thr: float | tuple[float, float]
    min_pos_iou: float
    gt_max_assign_all: bool
    match_low_quality: bool
    ignore_iof_thr: float
    ignore_wrt_candidates: bool


@dataclass(frozen=True)
class SamplerParams:
    """mmdet ``RandomSampler`` arguments (C.6); see `sample_random`."""

    num: int
    pos_fraction: float
    neg_pos_ub: float
    add_gt_as_proposals: bool


@dataclass(frozen=True)
class CoderParams:
    """``DeltaXYWHBBoxCoder`` target means and stds (C.7)."""

    target_means: Quad
    target_stds: Quad


@dataclass(frozen=True)
class GridAnchorConfig:
    """faster_rcnn / fpn / retinanet. ``rcnn_*`` keys are used with ``stage: rcnn`` only."""

    method: str
    compat: Compat
    stage: Literal["rpn", "rcnn", "dense"]
    resize_scale: tuple[int, int]
    pad_size_divisor: int
    clip_object_border: bool
    drop_outside_gt: bool
    strides: tuple[int, ...]
    ratios: tuple[float, ...]
    scales: tuple[float, ...] | None
    octave_base_scale: float | None
    scales_per_octave: int | None
    base_sizes: tuple[float, ...] | None
    center_offset: float
    tv_sizes: tuple[tuple[float, ...], ...]
    allowed_border: float
    pos_iou_thr: float
    neg_iou_thr: float | tuple[float, float]
    min_pos_iou: float
    gt_max_assign_all: bool
    match_low_quality: bool
    ignore_iof_thr: float
    ignore_wrt_candidates: bool
    sampler: Literal["random", "pseudo"]
    sampler_num: int | None
    pos_fraction: float | None
    neg_pos_ub: float | None
    add_gt_as_proposals: bool | None
    target_means: Quad
    target_stds: Quad
    rcnn_pos_iou_thr: float | None
    rcnn_neg_iou_thr: float | tuple[float, float] | None
    rcnn_min_pos_iou: float | None
    rcnn_gt_max_assign_all: bool | None
    rcnn_match_low_quality: bool | None
    rcnn_sampler_num: int | None
    rcnn_pos_fraction: float | None
    rcnn_neg_pos_ub: float | None
    rcnn_add_gt_as_proposals: bool | None
    rcnn_target_means: Quad | None
    rcnn_target_stds: Quad | None
    gt_level: bool
    roi_canonical_scale: float | None
    roi_canonical_level: int | None
    roi_levels: tuple[int, int] | None


@dataclass(frozen=True)
class SsdConfig:
    """ssd300 / ssd512: warped square input, fixed maps, VOC or COCO sizes, 3:1 mining budget."""

    method: str
    compat: Compat
    input_size: int
    featmap_sizes: tuple[tuple[int, int], ...]
    strides: tuple[int, ...]
    ratios: tuple[tuple[float, ...], ...]
    sizes: Literal["voc", "coco", "explicit"]
    voc_basesize_ratio_range: tuple[float, float]
    coco_basesize_ratio_range: tuple[float, float]
    min_sizes: tuple[float, ...] | None
    max_sizes: tuple[float, ...] | None
    tv_scales: tuple[float, ...]
    tv_clip: bool
    clip_object_border: bool
    drop_outside_gt: bool
    allowed_border: float
    pos_iou_thr: float
    neg_iou_thr: float | tuple[float, float]
    min_pos_iou: float
    gt_max_assign_all: bool
    match_low_quality: bool
    ignore_iof_thr: float
    ignore_wrt_candidates: bool
    target_means: Quad
    target_stds: Quad
    neg_pos_ratio: float
    neg_sampling: Literal["none", "random"]


@dataclass(frozen=True)
class FcosConfig:
    """fcos: points on P3-P7 with regress ranges and optional centre sampling (C.8)."""

    method: str
    compat: Compat
    resize_scale: tuple[int, int]
    pad_size_divisor: int
    clip_object_border: bool
    drop_outside_gt: bool
    strides: tuple[int, ...]
    point_offset: float
    regress_ranges: tuple[tuple[float, float], ...]
    center_sampling: bool
    center_sample_radius: float
    norm_on_bbox: bool
    tv_sizes: tuple[float, ...]


@dataclass(frozen=True)
class AtssConfig:
    """atss: one anchor per location, adaptive IoU threshold per GT (C.9); mmdet only."""

    method: str
    compat: Literal["mmdet"]
    resize_scale: tuple[int, int]
    pad_size_divisor: int
    clip_object_border: bool
    drop_outside_gt: bool
    strides: tuple[int, ...]
    ratios: tuple[float, ...]
    octave_base_scale: float
    scales_per_octave: int
    center_offset: float
    allowed_border: float
    topk: int
    center_inside_eps: float
    ignore_iof_thr: float
    target_means: Quad
    target_stds: Quad


MethodConfig = GridAnchorConfig | SsdConfig | FcosConfig | AtssConfig


@dataclass(frozen=True)
class MethodSpec:
    """What a method name resolves to: its preset file and its config dataclass."""

    preset: str
    config_cls: type


METHODS: dict[str, MethodSpec] = {
    "faster_rcnn": MethodSpec("anchors/faster_rcnn.yaml", GridAnchorConfig),
    "fpn": MethodSpec("anchors/fpn.yaml", GridAnchorConfig),
    "retinanet": MethodSpec("anchors/retinanet.yaml", GridAnchorConfig),
    "ssd300": MethodSpec("anchors/ssd300.yaml", SsdConfig),
    "ssd": MethodSpec("anchors/ssd300.yaml", SsdConfig),
    "ssd512": MethodSpec("anchors/ssd512.yaml", SsdConfig),
    "fcos": MethodSpec("anchors/fcos.yaml", FcosConfig),
    "atss": MethodSpec("anchors/atss.yaml", AtssConfig),
}


def load_method_config(method: str, overrides: Mapping[str, Any] | None = None,
                       source: str = "overrides",
                       sources: Mapping[str, str] | None = None) -> tuple[MethodConfig, Layered]:
    """The validated config of `method` (preset < `overrides`) and the layered values/sources.

    `sources` (per key) replace `source` for the overridden keys they name: a caller that merged
    the layers itself passes its record, so errors name the file or variable a value came from.

    Raises:
        ConfigError: unknown method, unknown key, wrong type or inconsistent values (the message
            names the key and its source).
    """
    spec = METHODS.get(method)
    if spec is None:
        raise ConfigError(f"unknown anchor method '{method}' (known: {', '.join(sorted(METHODS))})")
    layered = load_preset(spec.preset)
    if overrides:
        layered = layered.merge(overrides, source)
        layered.sources.update({k: v for k, v in (sources or {}).items() if k in layered.sources})
    cfg = build_dataclass(spec.config_cls, layered.values, layered.sources)
    validate(cfg, layered.sources)
    return cfg, layered


def config_keys(method: str) -> tuple[str, ...]:
    """The field names (= preset keys = CLI option names) of `method`'s config."""
    return tuple(f.name for f in fields(METHODS[method].config_cls))


def validate(cfg: MethodConfig, sources: Mapping[str, str] | None = None) -> None:
    """Range and consistency checks; raise `ConfigError` naming the key and the values."""
    sources = sources or {}
    if isinstance(cfg, GridAnchorConfig):
        _validate_grid(cfg, sources)
    elif isinstance(cfg, SsdConfig):
        _validate_ssd(cfg, sources)
    elif isinstance(cfg, AtssConfig):
        _validate_atss(cfg, sources)
    else:
        _validate_fcos(cfg, sources)


def _fail(key: str, message: str, sources: Mapping[str, str]) -> None:
    where = sources.get(key)
    raise ConfigError(f"config {where}: '{key}' {message}" if where else f"config: '{key}' {message}")


def _check_thresholds(prefix: str, pos: float, neg: Any, min_pos: float, sources: Mapping[str, str]) -> None:
    if not 0.0 <= pos <= 1.0:
        _fail(prefix + "pos_iou_thr", f"must be in [0, 1], got {pos}", sources)
    top = neg[1] if isinstance(neg, tuple) else neg
    bottom = neg[0] if isinstance(neg, tuple) else 0.0
    if not 0.0 <= bottom <= top <= pos:
        _fail(prefix + "neg_iou_thr", f"must satisfy 0 <= neg <= pos_iou_thr ({pos}), got {neg}", sources)
    if not 0.0 <= min_pos <= 1.0:
        _fail(prefix + "min_pos_iou", f"must be in [0, 1], got {min_pos}", sources)


def _check_coder(prefix: str, stds: Quad, sources: Mapping[str, str]) -> None:
    if any(s <= 0 for s in stds):
        _fail(prefix + "target_stds", f"must be positive, got {list(stds)}", sources)


def _check_len(key: str, values: Any, count: int, sources: Mapping[str, str]) -> None:
    if values is not None and len(values) != count:
        _fail(key, f"needs one entry per level ({count} strides), got {len(values)}", sources)


def _check_sampler(prefix: str, num: Any, fraction: Any, ub: Any, add_gt: Any, sources: Mapping[str, str]) -> None:
    for key, value in (("sampler_num", num), ("pos_fraction", fraction), ("neg_pos_ub", ub),
                       ("add_gt_as_proposals", add_gt)):
        if value is None:
            _fail(prefix + key, "is required when a random sampler runs", sources)
    if num <= 0:
        _fail(prefix + "sampler_num", f"must be positive, got {num}", sources)
    if not 0.0 <= fraction <= 1.0:
        _fail(prefix + "pos_fraction", f"must be in [0, 1], got {fraction}", sources)


def _validate_grid(cfg: GridAnchorConfig, sources: Mapping[str, str]) -> None:
    if cfg.method not in ("faster_rcnn", "fpn", "retinanet"):
        _fail("method", f"'{cfg.method}' is not a grid-anchor method", sources)
    allowed = ("dense",) if cfg.method == "retinanet" else ("rpn", "rcnn")
    if cfg.stage not in allowed:
        _fail("stage", f"must be one of {list(allowed)} for {cfg.method}, got '{cfg.stage}'", sources)
    if (cfg.scales is None) == (cfg.octave_base_scale is None or cfg.scales_per_octave is None):
        _fail("scales", "give either scales or octave_base_scale with scales_per_octave", sources)
    _check_len("base_sizes", cfg.base_sizes, len(cfg.strides), sources)
    _check_len("tv_sizes", cfg.tv_sizes, len(cfg.strides), sources)
    if not 0.0 <= cfg.center_offset <= 1.0:
        _fail("center_offset", f"must be in [0, 1], got {cfg.center_offset}", sources)
    _check_thresholds("", cfg.pos_iou_thr, cfg.neg_iou_thr, cfg.min_pos_iou, sources)
    _check_coder("", cfg.target_stds, sources)
    if cfg.sampler == "random":
        _check_sampler("", cfg.sampler_num, cfg.pos_fraction, cfg.neg_pos_ub, cfg.add_gt_as_proposals, sources)
    if cfg.stage == "rcnn":
        for f in fields(cfg):
            if f.name.startswith("rcnn_") and getattr(cfg, f.name) is None:
                _fail(f.name, "is required with stage: rcnn", sources)
        _check_thresholds("rcnn_", cfg.rcnn_pos_iou_thr, cfg.rcnn_neg_iou_thr, cfg.rcnn_min_pos_iou, sources)
        _check_sampler("rcnn_", cfg.rcnn_sampler_num, cfg.rcnn_pos_fraction, cfg.rcnn_neg_pos_ub,
                       cfg.rcnn_add_gt_as_proposals, sources)
        _check_coder("rcnn_", cfg.rcnn_target_stds, sources)
    if cfg.gt_level and None in (cfg.roi_canonical_scale, cfg.roi_canonical_level, cfg.roi_levels):
        _fail("gt_level", "needs roi_canonical_scale, roi_canonical_level and roi_levels", sources)


def _validate_ssd(cfg: SsdConfig, sources: Mapping[str, str]) -> None:
    if cfg.method not in ("ssd300", "ssd512"):
        _fail("method", f"'{cfg.method}' is not an SSD method", sources)
    levels = len(cfg.strides)
    for key in ("featmap_sizes", "ratios"):
        _check_len(key, getattr(cfg, key), levels, sources)
    _check_len("tv_scales", cfg.tv_scales, levels + 1, sources)
    explicit = cfg.min_sizes is not None or cfg.max_sizes is not None
    if (cfg.sizes == "explicit") != explicit or (explicit and None in (cfg.min_sizes, cfg.max_sizes)):
        _fail("sizes", "'explicit' goes with both min_sizes and max_sizes, 'voc'/'coco' with neither", sources)
    _check_len("min_sizes", cfg.min_sizes, levels, sources)
    _check_len("max_sizes", cfg.max_sizes, levels, sources)
    _check_thresholds("", cfg.pos_iou_thr, cfg.neg_iou_thr, cfg.min_pos_iou, sources)
    _check_coder("", cfg.target_stds, sources)
    if cfg.neg_pos_ratio < 0:
        _fail("neg_pos_ratio", f"must be >= 0, got {cfg.neg_pos_ratio}", sources)


def _validate_fcos(cfg: FcosConfig, sources: Mapping[str, str]) -> None:
    if cfg.method != "fcos":
        _fail("method", f"'{cfg.method}' is not a point method", sources)
    _check_len("regress_ranges", cfg.regress_ranges, len(cfg.strides), sources)
    _check_len("tv_sizes", cfg.tv_sizes, len(cfg.strides), sources)
    for lo, hi in cfg.regress_ranges:
        if lo >= hi:
            _fail("regress_ranges", f"each range needs low < high, got ({lo}, {hi})", sources)
    if cfg.center_sample_radius <= 0:
        _fail("center_sample_radius", f"must be positive, got {cfg.center_sample_radius}", sources)


def _validate_atss(cfg: AtssConfig, sources: Mapping[str, str]) -> None:
    if cfg.method != "atss":
        _fail("method", f"'{cfg.method}' is not ATSS", sources)
    if cfg.topk <= 0:
        _fail("topk", f"must be positive, got {cfg.topk}", sources)
    _check_coder("", cfg.target_stds, sources)


def rpn_assigner(cfg: GridAnchorConfig | SsdConfig) -> MaxIoUParams:
    """The dense (RPN / RetinaNet / SSD) assigner of a method config."""
    return MaxIoUParams(cfg.pos_iou_thr, cfg.neg_iou_thr, cfg.min_pos_iou, cfg.gt_max_assign_all,
                        cfg.match_low_quality, cfg.ignore_iof_thr, cfg.ignore_wrt_candidates)


def rcnn_assigner(cfg: GridAnchorConfig) -> MaxIoUParams:
    """The R-CNN (proposal) assigner; ignore settings are shared with the RPN."""
    return MaxIoUParams(cfg.rcnn_pos_iou_thr, cfg.rcnn_neg_iou_thr, cfg.rcnn_min_pos_iou,
                        cfg.rcnn_gt_max_assign_all, cfg.rcnn_match_low_quality, cfg.ignore_iof_thr,
                        cfg.ignore_wrt_candidates)


def rpn_sampler(cfg: GridAnchorConfig) -> SamplerParams:
    return SamplerParams(cfg.sampler_num, cfg.pos_fraction, cfg.neg_pos_ub, cfg.add_gt_as_proposals)


def rcnn_sampler(cfg: GridAnchorConfig) -> SamplerParams:
    return SamplerParams(cfg.rcnn_sampler_num, cfg.rcnn_pos_fraction, cfg.rcnn_neg_pos_ub,
                         cfg.rcnn_add_gt_as_proposals)


def coder_params(cfg: MethodConfig, stage: str = "rpn") -> CoderParams:
    if stage == "rcnn":
        return CoderParams(cfg.rcnn_target_means, cfg.rcnn_target_stds)
    return CoderParams(cfg.target_means, cfg.target_stds)
