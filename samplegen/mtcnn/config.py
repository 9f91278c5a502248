"""`MtcnnConfig`: every number of MTCNN crop sampling, built from `configs/mtcnn/{pnet,rnet,onet}.yaml`.

The dataclasses have no defaults for method numbers (house rule: one home per default, the
preset); `build_mtcnn_config` builds the frozen dataclasses from a resolved configuration with
`samplegen.config.build_dataclass` (unknown keys and wrong types are `ConfigError`s naming the key
and its source) and then checks ranges with messages that name the key's source too; `load_mtcnn_config` does the same from the
preset and a mapping of overrides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Mapping

from samplegen.config import Layered, Resolved, build_dataclass, fail, load_preset, nest
from samplegen.errors import ConfigError

PRESETS: dict[int, str] = {12: "mtcnn/pnet.yaml", 24: "mtcnn/rnet.yaml", 48: "mtcnn/onet.yaml"}
"""Crop size -> shipped preset (P-Net, R-Net, O-Net)."""

COMPAT: dict[str, str] = {"aittsmd": "mtcnn/aittsmd.yaml", "dface": "mtcnn/dface.yaml"}
"""``--compat`` name -> the layer of keys reproducing that pipeline, merged over the size preset."""
COMPAT_HARD_STAGES: dict[str, str] = {"aittsmd": "mtcnn/aittsmd_rnet_onet.yaml"}
"""``--compat`` name -> the layer it adds at sizes 24 and 48, where that pipeline's R-Net / O-Net
data differ from its P-Net data beyond the crop rules (which sets reach the trainer)."""
OUTPUT = "output"
"""The section of a compat layer holding its file conventions (`compat_output`)."""


@dataclass(frozen=True)
class LandmarkConfig:
    """Landmark samples from a facial-point source (reference-semantics B.5).

    Attributes:
        min_face: faces whose longer side is below this are skipped (AITTSMD: 40).
        attempts: shifted crops per face.
        iou_thr: a shifted crop is kept when IoU with its face is strictly greater.
        center_sample: also try the face-centred sample (the reference's GT sample).
        center_shape: ``square`` (the face-centred square of side ``max(w, h)``: one crop
            convention) or ``face_box`` (the face box itself, not square, each axis normalised
            by its own side: AITTSMD gen_landmark_aug_12.py:56-68).
        augment_center: mirror/rotate the centre sample too (AITTSMD augments only the shifted
            crops: gen_landmark_aug_12.py:115-138).
        mirror_prob: probability of adding the mirror of each kept crop.
        rotate_prob: probability, per angle, of adding the rotated crop.
        angles: rotation angles in degrees, OpenCV convention (positive = counter-clockwise).
        mirror_rotated: add the mirror of every rotated sample (as the reference does).
        rotate_about: ``face`` (the face centre) or ``crop`` (the centre of the pixels cut:
            AITTSMD Landmark_utils.rotate with the crop's BBox, gen_landmark_aug_12.py:112).
        cut_plus_one: cut ``(w+1) x (h+1)`` pixels (``[x1, x2 + 1)``, clipped at the image edge
            as numpy slicing does) while normalising by ``w``, ``h`` (gen_landmark_aug_12.py:99,107).
        filter_inside: drop samples with a point outside the open interval (0, 1) (DFace: none).
    """

    min_face: float
    attempts: int
    iou_thr: float
    center_sample: bool
    center_shape: Literal["square", "face_box"]
    augment_center: bool
    mirror_prob: float
    rotate_prob: float
    angles: tuple[float, ...]
    mirror_rotated: bool
    rotate_about: Literal["face", "crop"]
    cut_plus_one: bool
    filter_inside: bool


@dataclass(frozen=True)
class HardConfig:
    """Hard examples from previous-stage detections for 24/48 (B.6).

    Attributes:
        min_size: squared detections with a side below this are dropped.
        neg_per_image: at most this many negatives per image.
        neg_keep: which negatives a capped image keeps: ``score`` (the highest-scoring, the
            hardest), ``random`` (a uniform subset) or ``first`` (the first in detection order:
            AITTSMD gen_hard_example.py:88).
        square: ``centred`` (samplegen's half-open squares, D.1) or ``inclusive`` (the
            references' B.6 (b): ``convert_to_square`` with inclusive ``x2 = x1 + side - 1``, then
            ``np.round``; the inclusive width and image-border test, and offsets to the inclusive
            ``x2``, ``y2``).
    """

    RENAMED_KEYS: ClassVar[dict[str, str]] = {"neg_by_score": "neg_keep"}

    min_size: float
    neg_per_image: int
    neg_keep: Literal["score", "random", "first"]
    square: Literal["centred", "inclusive"]


@dataclass(frozen=True)
class MtcnnConfig:
    """All settings of MTCNN crop planning, balancing and cutting (issue 3, D.1).

    Attributes:
        size: output crop side S (12 P-Net, 24 R-Net, 48 O-Net).
        min_face: faces whose longer side is below this seed no crops (still count as faces).
        plus_one: discrete-pixel IoU ``(w+1)(h+1)`` of the references instead of continuous IoU.
        match_sampled_face: classify pos/part crops against their seed face only (references)
            instead of the best face of the image.
        pos_iou_thr, part_iou_thr, neg_iou_thr: pos ``iou >= pos``, part ``part <= iou < pos``,
            negative ``iou < neg``.
        ignore_iof_thr: a negative is rejected when ``iof(crop, ignore region) > thr``.
        pos_attempts: positive/part attempts per face.
        size_range: crop side drawn from ``[lo * min(w, h), hi * max(w, h)]``.
        jitter: centre jitter, uniform in ``[-j*w, j*w] x [-j*h, j*h]``.
        neg_per_image: random negatives accepted per image.
        neg_max_attempts: cap on random negative attempts per image.
        neg_min_size: smallest random negative side.
        neg_max_frac: largest random negative side, as a fraction of ``min(W, H)``.
        neg_near_attempts: negative attempts near each face.
        pad: keep crops that leave the image (zero padding) instead of dropping them.
        face_plus_one: the references' inclusive face widths ``w + 1`` in the seed filter and in
            the side and jitter draws of pos/part and landmark crops.
        size_draw: ``inclusive`` (integer side in ``[ceil(lo min), floor(hi max)]``) or
            ``randint`` (numpy's ``randint(int(lo min), ceil(hi max))``: ``[floor(lo min),
            ceil(hi max) - 1]``).
        jitter_draw: ``uniform`` (continuous, symmetric) or ``randint`` (numpy's
            ``randint(-j w, j w)``: integers ``[-floor(j w), floor(j w) - 1]``, an attempt on a
            face with ``floor(j w) == 0`` skipped).
        center_rule: ``nearest`` (top-left ``floor(cx + dx - side / 2 + 0.5)``) or ``py2``
            (Python 2 integer division: ``x1 + floor(w / 2) - floor(side / 2) + dx``).
        border: ``drop`` (pos/part and landmark crops leaving the image are dropped) or
            ``clamp_top_left`` (a negative top-left corner is moved to 0 first, as the
            references' ``max(..., 0)``; what then leaves the right/bottom edge is dropped).
        neg_draw: ``inclusive`` (negative side in ``[neg_min_size, floor(frac min(W, H))]``,
            corner in ``[0, W - side]``) or ``randint`` (both high bounds exclusive).
        near_neg_border: ``clamp`` (near-face negative corners drawn inside the image) or
            ``drop`` (drawn in ``[max(x1 - side, 0), x2]``, dropped when leaving the image).
        invalid_as_faces: annotation ignore regions (WIDER ``invalid=1``) are faces like the
            others (the references read them as faces); ``gt`` then indexes the record's boxes
            followed by its ignore regions.
        ratio: pos : neg : part : landmark sample ratio (integers).
        allow_duplicates: fill short classes by drawing with replacement (the older spelling of
            ``balance: oversample`` with ``base: null``).
        ratio_base: with duplicates, the class whose count sets the total.
        balance: ``exact`` (the ratio without replacement, the scarcest class sets the total),
            ``oversample`` (``base`` samples per ratio unit, without replacement first),
            ``keep`` (every planned sample; the manifest records the batch weights) or
            ``aittsmd`` (gen_imglist_pnet.py's rule); `samplegen.mtcnn.balance`.
        base: samples per ratio unit for ``oversample`` and ``aittsmd`` (AITTSMD's
            ``base_num``); null = the `ratio_base` class's count per unit.
        landmark: `LandmarkConfig`.
        hard: `HardConfig`.
    """

    size: int
    min_face: float
    plus_one: bool
    match_sampled_face: bool
    pos_iou_thr: float
    part_iou_thr: float
    neg_iou_thr: float
    ignore_iof_thr: float
    pos_attempts: int
    size_range: tuple[float, float]
    jitter: float
    neg_per_image: int
    neg_max_attempts: int
    neg_min_size: int
    neg_max_frac: float
    neg_near_attempts: int
    pad: bool
    face_plus_one: bool
    size_draw: Literal["inclusive", "randint"]
    jitter_draw: Literal["uniform", "randint"]
    center_rule: Literal["nearest", "py2"]
    border: Literal["drop", "clamp_top_left"]
    neg_draw: Literal["inclusive", "randint"]
    near_neg_border: Literal["clamp", "drop"]
    invalid_as_faces: bool
    ratio: tuple[int, int, int, int]
    allow_duplicates: bool
    ratio_base: Literal["pos", "neg", "part", "landmark"]
    balance: Literal["exact", "oversample", "keep", "aittsmd"]
    base: int | None
    landmark: LandmarkConfig
    hard: HardConfig

    @property
    def balance_mode(self) -> str:
        """The balance rule in force: ``allow_duplicates`` is the older spelling of ``oversample``."""
        return "oversample" if self.allow_duplicates else self.balance


def with_compat(layered: Layered, compat: str | None, hard_stage: bool = False) -> Layered:
    """`layered` with the `COMPAT` layer `compat` (and for a hard-example stage, a run of size 24
    or 48 on its own, its `COMPAT_HARD_STAGES` layer) applied under every value the user set.
    ``--size 12,24,48`` shares one P-Net-style plan, so it takes the `COMPAT` layer alone.

    The layers sit between the size preset and the user's layers (``--config``, environment,
    ``--set``, options): a key still sourced from a ``preset:`` takes the layer's value (source
    ``preset:mtcnn/<compat>.yaml``); a key the user set keeps the user's value.

    Raises:
        ConfigError: `compat` is not a key of `COMPAT`.
    """
    if compat is None:
        return layered
    if compat not in COMPAT:
        raise ConfigError(f"compat: expected one of {sorted(COMPAT)}, got {compat!r}")
    names = [COMPAT[compat]] + ([COMPAT_HARD_STAGES[compat]] if hard_stage and compat in COMPAT_HARD_STAGES else [])
    for name in names:
        layer = load_preset(name)
        mine = {path: _leaf(layer.values, path) for path in layer.sources if not path.startswith(OUTPUT + ".")}
        free = {path: value for path, value in mine.items()
                if layered.sources.get(path, "preset:").startswith("preset:")}
        layered = layered.merge(nest(free), f"preset:{name}") if free else layered
    return layered


def compat_output(compat: str | None) -> dict[str, str]:
    """The ``output:`` section of a `COMPAT` layer: the file conventions of that pipeline
    (``image_format``, ``list_style``), defaults of the layout options, not sampling keys."""
    if compat is None:
        return {}
    if compat not in COMPAT:
        raise ConfigError(f"compat: expected one of {sorted(COMPAT)}, got {compat!r}")
    return dict(load_preset(COMPAT[compat]).values.get(OUTPUT, {}))


def _leaf(values: Mapping[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        values = values[part]
    return values


def build_mtcnn_config(size: int, resolved: Resolved) -> MtcnnConfig:
    """The validated config of crop size `size` from a resolved configuration (engine keys ignored).

    Raises:
        ConfigError: unknown key, wrong type, a ``size`` other than `size`, an out-of-range value
            (each naming the key and where its value came from).
    """
    cfg = build_dataclass(MtcnnConfig, resolved.method_values, resolved.sources)
    if cfg.size != size:
        fail("size", f"is {cfg.size} but the {PRESETS[size]} preset was requested for {size}", resolved.sources)
    validate_mtcnn_config(cfg, resolved.sources)
    return cfg


def load_mtcnn_config(size: int, overrides: Mapping[str, Any] | None = None,
                      source: str = "overrides", compat: str | None = None) -> tuple[MtcnnConfig, Layered]:
    """The validated config of crop size `size` (12, 24 or 48): its preset with `overrides` on top.

    Args:
        size: crop size; selects the preset in `PRESETS`.
        overrides: nested mapping of keys to replace (``{"landmark": {"angles": [5]}}``).
        source: the label recorded as the source of every overridden value.
        compat: a `COMPAT` layer merged over the preset, under `overrides` (`with_compat`).

    Returns:
        ``(config, layered)``: the frozen config and the merged values with their sources.

    Raises:
        ConfigError: unknown size, unknown key, wrong type or an out-of-range value.
    """
    if size not in PRESETS:
        raise ConfigError(f"no MTCNN preset for size {size} (known: {sorted(PRESETS)})")
    layered = with_compat(load_preset(PRESETS[size]), compat, hard_stage=size != 12)
    if overrides:
        layered = layered.merge(overrides, source)
    return build_mtcnn_config(size, Resolved(layered)), layered


def validate_mtcnn_config(cfg: MtcnnConfig, sources: Mapping[str, str] | None = None) -> None:
    """Raise `ConfigError` naming the key, its value and its source (`sources`: dotted key ->
    ``preset:...``, ``file:...``, ``environment:NAME``, ``command line``) when a setting is out of range."""
    sources = sources or {}

    def require(ok: bool, key: str, message: str) -> None:
        if not ok:
            fail(key, message, sources)

    require(cfg.size >= 1, "size", f"must be >= 1, got {cfg.size}")
    require(cfg.min_face >= 0, "min_face", f"must be >= 0, got {cfg.min_face}")
    _require_chain(cfg, ("neg_iou_thr", "part_iou_thr", "pos_iou_thr"), sources)
    require(0.0 <= cfg.ignore_iof_thr < 1.0, "ignore_iof_thr", f"must be in [0, 1), got {cfg.ignore_iof_thr}")
    for key in ("pos_attempts", "neg_per_image", "neg_near_attempts"):
        require(getattr(cfg, key) >= 0, key, f"must be >= 0, got {getattr(cfg, key)}")
    lo, hi = cfg.size_range
    require(0.0 < lo <= hi, "size_range", f"must satisfy 0 < lo <= hi, got {list(cfg.size_range)}")
    require(cfg.jitter >= 0.0, "jitter", f"must be >= 0, got {cfg.jitter}")
    require(cfg.neg_max_attempts >= cfg.neg_per_image, "neg_max_attempts",
            f"({cfg.neg_max_attempts}) must be >= 'neg_per_image' ({cfg.neg_per_image}, {_source('neg_per_image', sources)})")
    require(cfg.neg_min_size >= 1, "neg_min_size", f"must be >= 1, got {cfg.neg_min_size}")
    require(0.0 < cfg.neg_max_frac <= 1.0, "neg_max_frac", f"must be in (0, 1], got {cfg.neg_max_frac}")
    require(all(r >= 0 for r in cfg.ratio) and sum(cfg.ratio) > 0, "ratio",
            f"must be 4 non-negative integers with a positive sum, got {list(cfg.ratio)}")
    base = ("pos", "neg", "part", "landmark").index(cfg.ratio_base)
    require(not (cfg.allow_duplicates or cfg.balance == "oversample") or cfg.base is not None
            or cfg.ratio[base] > 0, "ratio_base",
            f"is {cfg.ratio_base} but its share in 'ratio' {list(cfg.ratio)} ({_source('ratio', sources)}) is 0")
    require(cfg.base is None or cfg.base >= 1, "base", f"must be >= 1 (or null), got {cfg.base}")
    require(not cfg.allow_duplicates or cfg.balance in ("exact", "oversample"), "allow_duplicates",
            f"is the older spelling of 'balance: oversample' and cannot go with 'balance: {cfg.balance}' "
            f"({_source('balance', sources)})")
    # A preset's base (--compat aittsmd) under the user's --balance keep is simply unused; a base
    # the user gave to a mode without one is a mistake worth saying.
    require(cfg.base is None or cfg.balance_mode in ("oversample", "aittsmd")
            or _source("base", sources).startswith("preset:"), "base",
            f"({cfg.base}) applies to 'balance: oversample' or 'aittsmd', not '{cfg.balance}' "
            f"({_source('balance', sources)})")
    require(cfg.balance != "aittsmd" or cfg.base is not None, "base",
            "must be given for 'balance: aittsmd' (AITTSMD's base_num: 250000)")
    _validate_landmark(cfg.landmark, require)
    require(cfg.hard.min_size >= 1, "hard.min_size", f"must be >= 1, got {cfg.hard.min_size}")
    require(cfg.hard.neg_per_image >= 0, "hard.neg_per_image", f"must be >= 0, got {cfg.hard.neg_per_image}")


def _source(key: str, sources: Mapping[str, str]) -> str:
    return sources.get(key, "unknown source")


def _require_chain(cfg: MtcnnConfig, keys: tuple[str, ...], sources: Mapping[str, str]) -> None:
    """``0 <= keys[0] <= keys[1] <= ... <= 1``; the error blames a key the user set (not from a
    preset) when there is one, and lists every value with its source."""
    values = [getattr(cfg, key) for key in keys]
    if 0.0 <= values[0] and all(a <= b for a, b in zip(values, values[1:])) and values[-1] <= 1.0:
        return
    given = [key for key in keys if not _source(key, sources).startswith("preset:")]
    blamed = given[-1] if given else keys[-1]
    chain = " <= ".join(f"{key}={getattr(cfg, key)} ({_source(key, sources)})" for key in keys)
    fail(blamed, f"is {getattr(cfg, blamed)}: the thresholds must satisfy 0 <= {chain} <= 1", sources)


def _validate_landmark(lm: LandmarkConfig, require) -> None:  # noqa: ANN001 - validate's closure
    require(lm.min_face >= 0, "landmark.min_face", f"must be >= 0, got {lm.min_face}")
    require(lm.attempts >= 0, "landmark.attempts", f"must be >= 0, got {lm.attempts}")
    require(0.0 <= lm.iou_thr < 1.0, "landmark.iou_thr", f"must be in [0, 1), got {lm.iou_thr}")
    for key in ("mirror_prob", "rotate_prob"):
        value = getattr(lm, key)
        require(0.0 <= value <= 1.0, f"landmark.{key}", f"must be in [0, 1], got {value}")
    require(all(-90.0 < a < 90.0 and a != 0.0 for a in lm.angles), "landmark.angles",
            f"must be non-zero degrees in (-90, 90), got {list(lm.angles)}")
