"""The image pyramid PNet runs over: the scales, the level sizes and the resized levels.

The first scale maps a face of ``min_face`` pixels onto PNet's 12-pixel window
(``s0 = net_size / min_face``); each further level is ``factor`` times smaller, down to the
last level whose shorter side still holds one window. The two references compute the same
pyramid with different float steps (`PyramidConfig`), and a one-ulp difference in a scale can
move a ``ceil`` by a pixel, so both are reproduced operation by operation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from samplegen.detect.config import Interpolation, PyramidConfig

INTERPOLATIONS: dict[Interpolation, int] = {
    "area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST,
    "cubic": cv2.INTER_CUBIC}
"""Preset name -> OpenCV interpolation flag."""


@dataclass(frozen=True)
class Level:
    """One pyramid level: `scale` (level px per image px) and the resized size in pixels."""

    scale: float
    height: int
    width: int


def _level_side(side: int, scale: float, rounding: str) -> int:
    value = side * scale
    return int(math.ceil(value)) if rounding == "ceil" else int(value)


def pyramid_levels(height: int, width: int, cfg: PyramidConfig) -> list[Level]:
    """The levels PNet runs on for an image of `height` x `width` pixels, largest first.

    ``scales: power`` computes ``scale_k = s0 * factor ** k`` (ipazc's ``m * np.power(factor,
    k)``), ``multiply`` the running product (AITTSMD's ``current_scale *= factor``). ``stop:
    scaled_min_side_ge`` keeps a level while the running product ``min(H, W) * s0 * factor *
    ... >= net_size``; ``resized_min_side_gt`` while the resized level's shorter side is
    ``> net_size``. Level sides are ``ceil`` or ``floor`` of ``side * scale``.

    Returns:
        The levels; empty for an image smaller than one window at the first scale.
    """
    s0 = cfg.net_size / cfg.min_face
    levels: list[Level] = []
    scale = s0
    scaled_min_side = min(height, width) * s0
    k = 0
    while True:
        if cfg.scales == "power":
            scale = s0 * float(np.power(cfg.factor, k))
        level_h = _level_side(height, scale, cfg.size_rounding)
        level_w = _level_side(width, scale, cfg.size_rounding)
        if cfg.stop == "scaled_min_side_ge":
            keep = scaled_min_side >= cfg.net_size
        else:
            keep = min(level_h, level_w) > cfg.net_size
        # A level below one window cannot produce a PNet output: stop there whatever the rule.
        if not keep or min(level_h, level_w) < cfg.net_size:
            return levels
        levels.append(Level(scale, level_h, level_w))
        scaled_min_side = scaled_min_side * cfg.factor
        if cfg.scales == "multiply":
            scale = scale * cfg.factor
        k += 1


def resize_level(image: np.ndarray, level: Level, interpolation: Interpolation) -> np.ndarray:
    """`image` [H, W, 3] uint8 resized to the level's [height, width, 3] (uint8, OpenCV rounding)."""
    return cv2.resize(image, (level.width, level.height), interpolation=INTERPOLATIONS[interpolation])
