"""Candidate boxes from one PNet level: score map cells above the threshold -> image windows.

PNet is a 12x12 classifier run fully convolutionally: output cell ``(i, j)`` of a level at
scale ``s`` looks at the level window ``[stride * j, stride * j + cell)`` (x) and likewise in y,
i.e. image window ``x1 = R((stride * j + start_offset) / s)``, ``x2 = R((stride * j + cell) / s)``
with R the preset's rounding (ipazc: ``np.fix`` and ``start_offset`` 1; AITTSMD: ``np.round``
and 0). The order candidates are listed in is the NMS order among equal scores, so it follows
the reference (`GridConfig.scan_order`).
"""
from __future__ import annotations

import numpy as np

from samplegen.detect.config import GridConfig

NUM_COLUMNS = 9
"""Candidate rows: x1, y1, x2, y2, score, then the 4 regression offsets dx1, dy1, dx2, dy2."""


def _round(values: np.ndarray, rounding: str) -> np.ndarray:
    return np.fix(values) if rounding == "fix" else np.round(values)


def pnet_boxes_single_level(score_map: np.ndarray, reg_map: np.ndarray, scale: float,
                            threshold: float, inclusive: bool, cfg: GridConfig) -> np.ndarray:
    """The candidate windows of one pyramid level, in the reference's scan order.

    Args:
        score_map: float32 [h, w], face probability per output cell (image orientation).
        reg_map: float32 [h, w, 4], regression offsets per cell.
        scale: the level's scale (level px per image px).
        threshold: a cell passes when its score is ``>= threshold`` (`inclusive`) or ``>``;
            compared in float32, as the references compare a float32 map with a Python float.
        cfg: `GridConfig` (stride, cell, offsets, rounding, scan order, the single-hit quirk).

    Returns:
        float64 [K, 9] rows ``x1, y1, x2, y2, score, dx1, dy1, dx2, dy2`` in image pixels;
        [0, 9] when no cell passes.
    """
    if score_map.shape != reg_map.shape[:2] or reg_map.shape[2:] != (4,):
        raise ValueError(f"score map {score_map.shape} and regression map {reg_map.shape} do not match")
    passed = score_map >= threshold if inclusive else score_map > threshold
    if cfg.scan_order == "column_major":
        cols, rows = np.nonzero(passed.T)
    else:
        rows, cols = np.nonzero(passed)
    out = np.empty((rows.size, NUM_COLUMNS), np.float64)
    if rows.size == 0:
        return out
    reg_cols = cols
    if cfg.flip_single_hit and rows.size == 1:
        # ipazc flips its transposed regression maps (np.flipud) when exactly one cell passes,
        # so that cell's offsets come from the mirrored column; reproduced for exactness.
        reg_cols = score_map.shape[1] - 1 - cols
    # int64 arithmetic then one true division, as the references do with np.where's indices.
    out[:, 0] = _round((cfg.stride * cols + cfg.start_offset) / scale, cfg.rounding)
    out[:, 1] = _round((cfg.stride * rows + cfg.start_offset) / scale, cfg.rounding)
    out[:, 2] = _round((cfg.stride * cols + cfg.cell) / scale, cfg.rounding)
    out[:, 3] = _round((cfg.stride * rows + cfg.cell) / scale, cfg.rounding)
    out[:, 4] = score_map[rows, cols]
    out[:, 5:9] = reg_map[rows, reg_cols]
    return out
