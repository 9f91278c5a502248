"""`DetectConfig`: every number of the MTCNN inference cascade, from `configs/detect/*.yaml`.

The two public pipelines that users mine hard examples with differ in many small conventions
(which side of a float the pyramid sizes round to, ``+1`` pixel widths or not, ``fix`` or
``round``, whether a threshold is inclusive, the scan order of the PNet map that decides NMS
ties). Each of them is a key here, so one code path reproduces either pipeline exactly and the
preset says which; nothing below has a Python default (house rule: one home per default).

`load_detect_config` loads a preset, applies overrides, builds the frozen dataclasses with
`samplegen.config.build_dataclass` (unknown keys and wrong types are `ConfigError`s naming the key
and its source) and then checks ranges with messages.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from samplegen.config import Resolved, build_dataclass, load_preset
from samplegen.errors import ConfigError

PRESETS: dict[str, str] = {"ipazc": "detect/ipazc.yaml", "aittsmd": "detect/aittsmd.yaml"}
"""Preset name (``--preset``) -> shipped YAML file."""

Layout = Literal["nchw", "nhwc_swapped"]
"""NCHW (PyTorch exports) or NHWC fed with width and height swapped (Keras conversions)."""

Interpolation = Literal["area", "linear", "nearest", "cubic"]
"""OpenCV resize interpolations (``cv2.INTER_AREA`` ...), mapped in `samplegen.detect.pyramid`."""

Square = Literal["none", "plain", "plus_one"]
"""Make boxes square: ``plain`` side ``max(x2 - x1, y2 - y1)``, ``x2 = x1 + side`` (ipazc
``rerec``); ``plus_one`` side ``max(x2 - x1 + 1, ...)``, ``x2 = x1 + side - 1`` (AITTSMD
``convert_to_square``)."""

Rounding = Literal["none", "fix", "round"]
"""``fix`` truncates toward zero (``np.fix``); ``round`` is ``np.round`` (half to even)."""


@dataclass(frozen=True)
class PyramidConfig:
    """The image pyramid PNet runs over.

    Attributes:
        min_face: smallest face side to find, px; the first scale is ``net_size / min_face``.
        factor: ratio between consecutive scales, in (0, 1).
        net_size: PNet's receptive field (12); levels smaller than it are not run.
        scales: ``power``: ``scale_k = s0 * factor ** k``; ``multiply``: ``scale_k = scale_(k-1) *
            factor`` (the two differ in the last float bit, which can move a ceil/floor).
        stop: ``scaled_min_side_ge``: keep level k while ``min(H, W) * s0 * factor ** k >= net_size``
            (the product taken step by step, ipazc); ``resized_min_side_gt``: while the *resized*
            level's shorter side ``> net_size`` (AITTSMD).
        size_rounding: level size ``ceil(W * scale)`` or ``floor`` (``int()``).
        interpolation: resize interpolation of the levels.
    """

    min_face: float
    factor: float
    net_size: int
    scales: Literal["power", "multiply"]
    stop: Literal["scaled_min_side_ge", "resized_min_side_gt"]
    size_rounding: Literal["ceil", "floor"]
    interpolation: Interpolation


@dataclass(frozen=True)
class OutputNames:
    """Names of a net's two output tensors used here."""

    regression: str
    prob: str


@dataclass(frozen=True)
class LayoutConfig:
    """How to run models of one tensor layout.

    Attributes:
        pnet_engine, rnet_engine: OpenCV DNN engine per net (``cv2.dnn.ENGINE_CLASSIC`` /
            ``ENGINE_NEW``); OpenCV 5.0's engines each fail on one of the real exports, see the
            presets. OpenCV 5.1 has one engine, which both names select (`nets.dnn_engine`).
        pnet_outputs, rnet_outputs: output tensor names.
    """

    pnet_engine: Literal["classic", "new"]
    rnet_engine: Literal["classic", "new"]
    pnet_outputs: OutputNames
    rnet_outputs: OutputNames


@dataclass(frozen=True)
class InputConfig:
    """What the nets expect as input, per pixel and per tensor layout.

    Attributes:
        layout: ``auto`` reads it from the model's input shape (3 channels on axis 1: NCHW, on
            axis 3: NHWC, taken as the width/height-swapped Keras layout); otherwise forced.
        channel_order: ``rgb`` or ``bgr`` (decoded images are BGR).
        mean, scale: pixel ``p`` is fed as ``(p - mean) * scale``, computed in float64 and then
            rounded to float32 (what the references' numpy code and runtimes do).
        face_class: channel of the face probability in the ``prob`` outputs.
        nchw, nhwc_swapped: `LayoutConfig` per layout.
    """

    layout: Literal["auto", "nchw", "nhwc_swapped"]
    channel_order: Literal["rgb", "bgr"]
    mean: float
    scale: float
    face_class: int
    nchw: LayoutConfig
    nhwc_swapped: LayoutConfig

    def for_layout(self, layout: Layout) -> LayoutConfig:
        """The `LayoutConfig` of a resolved layout."""
        return self.nchw if layout == "nchw" else self.nhwc_swapped


@dataclass(frozen=True)
class NmsConfig:
    """Greedy NMS: a box is dropped when its overlap with a kept one is ``> iou``.

    Attributes:
        iou: overlap threshold.
        mode: ``union``: inter / (a1 + a2 - inter); ``min``: inter / min(a1, a2).
        plus_one: areas and intersections with discrete ``+1`` widths (both references).
    """

    iou: float
    mode: Literal["union", "min"]
    plus_one: bool


@dataclass(frozen=True)
class GridConfig:
    """Boxes from PNet's score map: cell (i, j) -> a ``cell``-px window every ``stride`` px.

    Attributes:
        stride, cell: PNet's output stride and receptive field, in level pixels.
        start_offset: added to ``stride * i`` for x1/y1 only, before dividing by the scale
            (ipazc: 1, from the 1-based MATLAB original; AITTSMD: 0).
        rounding: applied to the four coordinates in image pixels.
        scan_order: order candidates are listed in, ``column_major`` (ipazc transposes the map)
            or ``row_major``; it is the NMS order among equal scores.
        flip_single_hit: when exactly one cell passes, read its regression from the mirrored
            column ``w - 1 - j`` (ipazc's ``np.flipud`` on the transposed maps; kept for exactness).
    """

    stride: int
    cell: int
    start_offset: int
    rounding: Literal["fix", "round"]
    scan_order: Literal["column_major", "row_major"]
    flip_single_hit: bool


@dataclass(frozen=True)
class BoxFinish:
    """Squaring then rounding of a stage's boxes (`Square`, `Rounding`)."""

    square: Square
    rounding: Rounding


@dataclass(frozen=True)
class PNetStage:
    """Stage 1: threshold, per-level NMS, cross-level NMS, calibration, finish.

    Attributes:
        threshold, inclusive: a cell passes when ``score >= threshold`` (inclusive) or ``>``.
        grid: `GridConfig`.
        level_nms, cross_level_nms: `NmsConfig` within a level, then over all levels.
        calibrate_plus_one: regression offsets scale ``x2 - x1 + 1`` (else ``x2 - x1``).
        finish: `BoxFinish` of the stage's output boxes.
    """

    threshold: float
    inclusive: bool
    grid: GridConfig
    level_nms: NmsConfig
    cross_level_nms: NmsConfig
    calibrate_plus_one: bool
    finish: BoxFinish


@dataclass(frozen=True)
class CropConfig:
    """How RNet's input windows are cut.

    Attributes:
        offset: pixel offset of a crop's origin from (x1, y1): the window is ``tmpw = x2 - x1 + 1``
            pixels from column ``x1 + offset`` (ipazc: -1, its 1-based indexing of 0-based boxes).
            Pixels outside the image are zero.
        precision: ``float64``: zero-fill and resize in float64 (ipazc); ``uint8``: resize the
            uint8 crop, rounded by OpenCV (AITTSMD).
        interpolation: resize interpolation to ``size x size``.
    """

    offset: int
    precision: Literal["float64", "uint8"]
    interpolation: Interpolation


@dataclass(frozen=True)
class RNetStage:
    """Stage 2 on stage-1 boxes: prepare, crop, threshold, NMS, calibration, finish.

    Attributes:
        size: RNet input side (24).
        batch_size: crops per forward call (results do not depend on it).
        prepare: `BoxFinish` applied to stage-1 boxes before cropping.
        crop: `CropConfig`.
        threshold, inclusive: a crop passes when its score is ``>= threshold`` or ``>``.
        nms: `NmsConfig`.
        calibrate_plus_one: as for PNet.
        finish: `BoxFinish` of the output boxes.
    """

    size: int
    batch_size: int
    prepare: BoxFinish
    crop: CropConfig
    threshold: float
    inclusive: bool
    nms: NmsConfig
    calibrate_plus_one: bool
    finish: BoxFinish


@dataclass(frozen=True)
class DetectConfig:
    """All settings of `samplegen.detect.cascade.detect_faces` (issue 13)."""

    pyramid: PyramidConfig
    input: InputConfig
    pnet: PNetStage
    rnet: RNetStage


def load_detect_config(preset: str, overrides: Mapping[str, Any] | None = None,
                       source: str = "overrides") -> DetectConfig:
    """The validated config of preset `preset` (``ipazc`` or ``aittsmd``) with `overrides` on top.

    Args:
        preset: a name in `PRESETS`.
        overrides: nested mapping of keys to replace (``{"pnet": {"threshold": 0.5}}``).
        source: the label recorded as the source of every overridden value.

    Raises:
        ConfigError: unknown preset, unknown key, wrong type or an out-of-range value.
    """
    if preset not in PRESETS:
        raise ConfigError(f"no detect preset named {preset!r} (known: {', '.join(sorted(PRESETS))})")
    layered = load_preset(PRESETS[preset])
    if overrides:
        layered = layered.merge(overrides, source)
    cfg = build_dataclass(DetectConfig, layered.values, layered.sources)
    validate_detect_config(cfg)
    return cfg


def build_detect_config(resolved: Resolved) -> DetectConfig:
    """The validated config from a resolved configuration (`samplegen.config.resolve` of a
    ``detect/*.yaml`` preset; engine keys ignored)."""
    cfg = build_dataclass(DetectConfig, resolved.method_values, resolved.sources)
    validate_detect_config(cfg)
    return cfg


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"config: {message}")


def _unit(key: str, value: float) -> None:
    _require(0.0 <= value <= 1.0, f"'{key}' must be in [0, 1], got {value}")


def validate_detect_config(cfg: DetectConfig) -> None:
    """Raise `ConfigError` naming the key and value when a setting is out of range."""
    p = cfg.pyramid
    _require(p.min_face > 0, f"'pyramid.min_face' must be > 0, got {p.min_face}")
    _require(0.0 < p.factor < 1.0, f"'pyramid.factor' must be in (0, 1), got {p.factor}")
    _require(p.net_size >= 1, f"'pyramid.net_size' must be >= 1, got {p.net_size}")
    _require(math.isfinite(cfg.input.mean), f"'input.mean' must be finite, got {cfg.input.mean}")
    _require(math.isfinite(cfg.input.scale) and cfg.input.scale != 0,
             f"'input.scale' must be finite and non-zero, got {cfg.input.scale}")
    _require(cfg.input.face_class in (0, 1), f"'input.face_class' must be 0 or 1, got {cfg.input.face_class}")
    _unit("pnet.threshold", cfg.pnet.threshold)
    _unit("rnet.threshold", cfg.rnet.threshold)
    for key, nms in (("pnet.level_nms", cfg.pnet.level_nms), ("pnet.cross_level_nms", cfg.pnet.cross_level_nms),
                     ("rnet.nms", cfg.rnet.nms)):
        _unit(f"{key}.iou", nms.iou)
    g = cfg.pnet.grid
    _require(g.stride >= 1 and g.cell >= 1, f"'pnet.grid.stride' and 'cell' must be >= 1, got {g.stride}, {g.cell}")
    _require(cfg.rnet.size >= 1, f"'rnet.size' must be >= 1, got {cfg.rnet.size}")
    _require(cfg.rnet.batch_size >= 1, f"'rnet.batch_size' must be >= 1, got {cfg.rnet.batch_size}")
