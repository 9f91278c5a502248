"""Box refinement between MTCNN stages: calibration by the regression output, squaring, rounding.

Each operation is written with the references' float64 operations in their order (ipazc
``__bbreg`` / ``__rerec`` and the inline stage-1 calibration; AITTSMD ``calibrate_box`` /
``convert_to_square``), since the next stage crops at the rounded result and a half-pixel
difference moves a crop by a pixel. Boxes are float64 [N, 4] ``x1 y1 x2 y2``; every function
returns a new array and accepts N = 0.
"""
from __future__ import annotations

import numpy as np

from samplegen.detect.config import BoxFinish, Rounding, Square


def calibrate(boxes: np.ndarray, offsets: np.ndarray, plus_one: bool) -> np.ndarray:
    """Boxes moved by regression offsets scaled by the box size.

    ``x1 + dx1 * w``, ``y1 + dy1 * h``, ``x2 + dx2 * w``, ``y2 + dy2 * h`` with ``w = x2 - x1``
    (+1 with `plus_one`: ipazc's RNet ``__bbreg`` and AITTSMD; ipazc's stage 1 uses no +1).

    Args:
        boxes: float64 [N, 4].
        offsets: [N, 4] ``dx1 dy1 dx2 dy2`` (float32 net outputs are widened to float64).
    """
    one = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + one
    h = boxes[:, 3] - boxes[:, 1] + one
    offsets = offsets.astype(np.float64, copy=False)
    return np.stack([boxes[:, 0] + offsets[:, 0] * w, boxes[:, 1] + offsets[:, 1] * h,
                     boxes[:, 2] + offsets[:, 2] * w, boxes[:, 3] + offsets[:, 3] * h], axis=1)


def square(boxes: np.ndarray, mode: Square) -> np.ndarray:
    """Boxes made square around their centre, side = the longer side.

    ``plain`` (ipazc ``__rerec``): ``w = x2 - x1``, ``side = max(w, h)``, ``x1' = x1 + w * 0.5 -
    side * 0.5``, ``x2' = x1' + side``. ``plus_one`` (AITTSMD ``convert_to_square``): ``w = x2 -
    x1 + 1`` and ``x2' = x1' + side - 1``. ``none`` returns a copy.
    """
    if mode == "none":
        return boxes.copy()
    one = 1.0 if mode == "plus_one" else 0.0
    w = boxes[:, 2] - boxes[:, 0] + one
    h = boxes[:, 3] - boxes[:, 1] + one
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return np.stack([x1, y1, x1 + side - one, y1 + side - one], axis=1)


def round_boxes(boxes: np.ndarray, rounding: Rounding) -> np.ndarray:
    """``fix`` (toward zero, ipazc ``np.fix``), ``round`` (half to even, AITTSMD ``np.round``)."""
    if rounding == "fix":
        return np.fix(boxes)
    if rounding == "round":
        return np.round(boxes)
    return boxes.copy()


def finish(boxes: np.ndarray, cfg: BoxFinish) -> np.ndarray:
    """`square` then `round_boxes`, as a stage's `BoxFinish` says."""
    return round_boxes(square(boxes, cfg.square), cfg.rounding)
