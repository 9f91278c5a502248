"""Typed configuration of the anchor / point methods, nested by concept as mmdetection's configs read.

A method config is a frozen dataclass made of concept sections, each its own dataclass:

* ``input`` - how an image becomes the network input (`ResizeInput`: keep-ratio resize + pad;
  `WarpInput`: SSD's square warp), plus the GT clipping / dropping rules of the dataset;
* ``prior_generator`` - anchors (`AnchorGeneratorConfig`, mmdet ``AnchorGenerator``), SSD default
  boxes (`SsdPriorConfig`) or points (`PointGeneratorConfig`, ``MlvlPointGenerator``);
* ``assigner`` - `MaxIoUParams` (``MaxIoUAssigner``), `AtssAssignerConfig`, `FcosAssignerConfig`;
* ``sampler`` - `SamplerParams` (``RandomSampler`` / ``PseudoSampler``);
* ``coder`` - `CoderParams` (``DeltaXYWHBBoxCoder``) or `DistanceCoderConfig` (FCOS l/t/r/b);
* ``rcnn`` - the second stage of Faster R-CNN (its own assigner, sampler and coder).

Every number that changes what is labelled comes from a preset in ``configs/anchors/<name>.yaml``
(the dataclasses have no defaults for them); keys are the field names, so a user overrides
``assigner.pos_iou_thr`` in ``--config``, ``--set`` or ``SAMPLEGEN_ASSIGNER__POS_IOU_THR``. The
pure core takes these sections directly (`assign_max_iou(..., cfg.assigner)`). Keys of the older
flat layout are listed in each method config's ``RENAMED_KEYS`` so a stale ``--config`` file is
told the new name. Method names resolve to these classes in `samplegen.anchors.methods.METHODS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

Compat = Literal["mmdet", "torchvision"]
Quad = tuple[float, float, float, float]


# ------------------------------------------------------------------------------------ input

@dataclass(frozen=True)
class ResizeInput:
    """mmdet ``Resize(scale, keep_ratio=True)`` then bottom/right padding to a divisor (C.2).

    Attributes:
        resize_scale: (long, short) side limits, e.g. (1333, 800).
        pad_size_divisor: the padded input is a multiple of this.
        clip_object_border: GT boxes clipped to the resized image (mmdet ``Resize`` default).
        drop_outside_gt: GT boxes with no overlap with the image are left out (mmdet
            ``CocoDataset``); kept, they clip to zero area and tie at IoU 0 (mmdet #8289).
    """

    resize_scale: tuple[int, int]
    pad_size_divisor: int
    clip_object_border: bool
    drop_outside_gt: bool


@dataclass(frozen=True)
class WarpInput:
    """SSD: ``Resize(scale=(size, size), keep_ratio=False)``, no padding (C.2)."""

    size: int
    clip_object_border: bool
    drop_outside_gt: bool


# ---------------------------------------------------------------------------- prior generators

@dataclass(frozen=True)
class AnchorGeneratorConfig:
    """mmdet ``AnchorGenerator`` (C.3) and the torchvision sizes used with ``compat: torchvision``.

    Give either `scales` or `octave_base_scale` with `scales_per_octave`.

    Attributes:
        strides: one per level.
        ratios: h / w ratios.
        scales: anchor scales relative to the base size.
        octave_base_scale, scales_per_octave: RetinaNet-style octave scales.
        base_sizes: one per level; None = the level's stride.
        center_offset: anchor centre offset in cells (mmdet v2+: 0).
        tv_sizes: torchvision ``AnchorGenerator`` sizes per level (None: no torchvision variant).
    """

    strides: tuple[int, ...]
    ratios: tuple[float, ...]
    center_offset: float
    scales: tuple[float, ...] | None = None
    octave_base_scale: float | None = None
    scales_per_octave: int | None = None
    base_sizes: tuple[float, ...] | None = None
    tv_sizes: tuple[tuple[float, ...], ...] | None = None


@dataclass(frozen=True)
class SsdPriorConfig:
    """mmdet ``SSDAnchorGenerator`` on fixed maps (C.4), and torchvision's ``DefaultBoxGenerator``.

    Attributes:
        featmap_sizes: (h, w) per level; strides: one per level; ratios: per level.
        sizes: ``voc`` / ``coco`` derive min/max sizes from the matching basesize ratio range;
            ``explicit`` takes `min_sizes` / `max_sizes`.
        tv_scales, tv_clip: torchvision ``DefaultBoxGenerator(scales, clip)``.
    """

    featmap_sizes: tuple[tuple[int, int], ...]
    strides: tuple[int, ...]
    ratios: tuple[tuple[float, ...], ...]
    sizes: Literal["voc", "coco", "explicit"]
    voc_basesize_ratio_range: tuple[float, float]
    coco_basesize_ratio_range: tuple[float, float]
    tv_scales: tuple[float, ...]
    tv_clip: bool
    min_sizes: tuple[float, ...] | None = None
    max_sizes: tuple[float, ...] | None = None


@dataclass(frozen=True)
class PointGeneratorConfig:
    """mmdet ``MlvlPointGenerator(strides, offset)``: points ``((x + offset) s, (y + offset) s)``.

    `tv_sizes`: torchvision FCOS anchor sizes per level (their centres are the points).
    """

    strides: tuple[int, ...]
    offset: float
    tv_sizes: tuple[float, ...]


# ----------------------------------------------------------------------------------- assigners

@dataclass(frozen=True)
class MaxIoUParams:
    """mmdet ``MaxIoUAssigner`` arguments (reference-semantics C.5); see `assign_max_iou`.

    `neg_iou_thr` is one upper bound or a ``(lo, hi)`` pair; ``ignore_iof_thr <= 0`` disables
    ignore regions.
    """

    pos_iou_thr: float
    neg_iou_thr: float | tuple[float, float]
    min_pos_iou: float
    gt_max_assign_all: bool
    match_low_quality: bool
    ignore_iof_thr: float
    ignore_wrt_candidates: bool


@dataclass(frozen=True)
class AtssAssignerConfig:
    """mmdet ``ATSSAssigner(topk)`` (C.9); the centre-inside margin is hard-coded there (0.01)."""

    topk: int
    center_inside_eps: float
    ignore_iof_thr: float


@dataclass(frozen=True)
class FcosAssignerConfig:
    """FCOS ``get_targets`` (C.8): per-level regress ranges and optional centre sampling."""

    regress_ranges: tuple[tuple[float, float], ...]
    center_sampling: bool
    center_sample_radius: float


# -------------------------------------------------------------------------------- samplers, coders

@dataclass(frozen=True)
class SamplerParams:
    """mmdet ``RandomSampler`` (C.6), or ``PseudoSampler`` (every positive and negative) with
    ``type: pseudo`` and no other key."""

    type: Literal["random", "pseudo"]
    num: int | None = None
    pos_fraction: float | None = None
    neg_pos_ub: float | None = None
    add_gt_as_proposals: bool | None = None


@dataclass(frozen=True)
class CoderParams:
    """``DeltaXYWHBBoxCoder`` target means and stds (C.7)."""

    target_means: Quad
    target_stds: Quad


@dataclass(frozen=True)
class DistanceCoderConfig:
    """FCOS l/t/r/b distances; `norm_on_bbox` divides them by the level's stride."""

    norm_on_bbox: bool


@dataclass(frozen=True)
class NegativeMiningConfig:
    """SSD's 3:1 hard-negative budget ``min(ratio * P, N)`` (needs the model's losses offline, so
    it is recorded; ``sampling: random`` also marks that many uniformly drawn negatives)."""

    neg_pos_ratio: float
    sampling: Literal["none", "random"]


@dataclass(frozen=True)
class RcnnStageConfig:
    """Faster R-CNN's second stage (``train_cfg.rcnn``): proposals are assigned, sampled, encoded."""

    assigner: MaxIoUParams
    sampler: SamplerParams
    coder: CoderParams


@dataclass(frozen=True)
class RoiLevelConfig:
    """FPN RoI level per GT (FPN paper eq. 1): ``floor(k0 + log2(sqrt(w h) / scale))`` clamped (C.12)."""

    canonical_scale: float
    canonical_level: int
    levels: tuple[int, int]


# --------------------------------------------------------------------------------- method configs

def _renamed(groups: dict[str, tuple[str, ...]], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Old flat key -> new dotted key, for configuration files written before the nesting."""
    out = {key: f"{section}.{key}" for section, keys in groups.items() for key in keys}
    return out | (extra or {})


_INPUT_KEYS = ("resize_scale", "pad_size_divisor", "clip_object_border", "drop_outside_gt")
_ASSIGNER_KEYS = tuple(MaxIoUParams.__dataclass_fields__)
_CODER_KEYS = ("target_means", "target_stds")


@dataclass(frozen=True)
class GridAnchorConfig:
    """faster_rcnn / fpn / retinanet: anchors on stride grids, MaxIoU assignment (``stage: rpn``
    or ``dense``), or proposals with the R-CNN stage (``stage: rcnn``, needs `rcnn`).

    `allowed_border` is mmdet's ``train_cfg.allowed_border``: -1 assigns every anchor; otherwise
    anchors further than this outside the padded input are IGNORE. `roi_level`: record the FPN
    RoI level of every GT (``gt_level``), None for single-level models.
    """

    method: str
    compat: Compat
    stage: Literal["rpn", "rcnn", "dense"]
    input: ResizeInput
    prior_generator: AnchorGeneratorConfig
    allowed_border: float
    assigner: MaxIoUParams
    sampler: SamplerParams
    coder: CoderParams
    rcnn: RcnnStageConfig | None
    roi_level: RoiLevelConfig | None

    RENAMED_KEYS: ClassVar[dict[str, str]] = _renamed(
        {"input": _INPUT_KEYS,
         "prior_generator": ("strides", "ratios", "scales", "octave_base_scale", "scales_per_octave",
                             "base_sizes", "center_offset", "tv_sizes"),
         "assigner": _ASSIGNER_KEYS, "coder": _CODER_KEYS},
        {"sampler_num": "sampler.num", "pos_fraction": "sampler.pos_fraction", "neg_pos_ub": "sampler.neg_pos_ub",
         "add_gt_as_proposals": "sampler.add_gt_as_proposals", "gt_level": "roi_level",
         "roi_canonical_scale": "roi_level.canonical_scale", "roi_canonical_level": "roi_level.canonical_level",
         "roi_levels": "roi_level.levels", "rcnn_sampler_num": "rcnn.sampler.num",
         **{f"rcnn_{k}": f"rcnn.assigner.{k}" for k in _ASSIGNER_KEYS},
         **{f"rcnn_{k}": f"rcnn.sampler.{k}" for k in ("pos_fraction", "neg_pos_ub", "add_gt_as_proposals")},
         **{f"rcnn_{k}": f"rcnn.coder.{k}" for k in _CODER_KEYS}})

    @property
    def strides(self) -> tuple[int, ...]:
        return self.prior_generator.strides


@dataclass(frozen=True)
class SsdConfig:
    """ssd300 / ssd512: warped square input, fixed maps, VOC or COCO sizes, 3:1 mining budget."""

    method: str
    compat: Compat
    input: WarpInput
    prior_generator: SsdPriorConfig
    allowed_border: float
    assigner: MaxIoUParams
    coder: CoderParams
    neg_mining: NegativeMiningConfig

    RENAMED_KEYS: ClassVar[dict[str, str]] = _renamed(
        {"input": ("clip_object_border", "drop_outside_gt"),
         "prior_generator": ("featmap_sizes", "strides", "ratios", "sizes", "voc_basesize_ratio_range",
                             "coco_basesize_ratio_range", "min_sizes", "max_sizes", "tv_scales", "tv_clip"),
         "assigner": _ASSIGNER_KEYS, "coder": _CODER_KEYS},
        {"input_size": "input.size", "neg_pos_ratio": "neg_mining.neg_pos_ratio",
         "neg_sampling": "neg_mining.sampling"})

    @property
    def strides(self) -> tuple[int, ...]:
        return self.prior_generator.strides


@dataclass(frozen=True)
class FcosConfig:
    """fcos: points on P3-P7 with regress ranges and optional centre sampling (C.8)."""

    method: str
    compat: Compat
    input: ResizeInput
    prior_generator: PointGeneratorConfig
    assigner: FcosAssignerConfig
    coder: DistanceCoderConfig

    RENAMED_KEYS: ClassVar[dict[str, str]] = _renamed(
        {"input": _INPUT_KEYS, "prior_generator": ("strides", "tv_sizes"),
         "assigner": ("regress_ranges", "center_sampling", "center_sample_radius"), "coder": ("norm_on_bbox",)},
        {"point_offset": "prior_generator.offset"})

    @property
    def strides(self) -> tuple[int, ...]:
        return self.prior_generator.strides


@dataclass(frozen=True)
class AtssConfig:
    """atss: one anchor per location, adaptive IoU threshold per GT (C.9); mmdet only."""

    method: str
    compat: Literal["mmdet"]
    input: ResizeInput
    prior_generator: AnchorGeneratorConfig
    allowed_border: float
    assigner: AtssAssignerConfig
    coder: CoderParams

    RENAMED_KEYS: ClassVar[dict[str, str]] = _renamed(
        {"input": _INPUT_KEYS,
         "prior_generator": ("strides", "ratios", "octave_base_scale", "scales_per_octave", "center_offset"),
         "assigner": ("topk", "center_inside_eps", "ignore_iof_thr"), "coder": _CODER_KEYS})

    @property
    def strides(self) -> tuple[int, ...]:
        return self.prior_generator.strides


MethodConfig = GridAnchorConfig | SsdConfig | FcosConfig | AtssConfig
