"""Prior generators: grid anchors, SSD default boxes and FCOS points, bit-identical to mmdetection.

Every function computes in float32 in the reference's operation order (reference-semantics C.3,
C.4, C.8), so the priors equal mmdetection 3.3.0's ``AnchorGenerator``, ``SSDAnchorGenerator`` and
``MlvlPointGenerator`` bit for bit. The torchvision variants (``tv_*``) reproduce torchvision
0.28's ``AnchorGenerator`` (rounded cell anchors, integer-division strides) and
``DefaultBoxGenerator``.

Order of the flattened priors (all generators): levels in config order; within a level, row-major
cells with x fastest, then the cell's base anchors, i.e. flat index ``(y * W_l + x) * A + a``.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

F32 = np.float32


def octave_scales(octave_base_scale: float, scales_per_octave: int) -> np.ndarray:
    """Scales ``octave_base_scale * 2**(i / scales_per_octave)``, float32 [S].

    Computed in float64 and cast to float32, as mmdet's ``AnchorGenerator`` does (C.3): RetinaNet's
    (4, 3) gives [4, 5.0397, 6.3496].
    """
    octave = np.array([2 ** (i / scales_per_octave) for i in range(scales_per_octave)])
    return (octave * octave_base_scale).astype(F32)


def anchor_base_single_level(base_size: float, scales: Sequence[float], ratios: Sequence[float],
                             scale_major: bool, center: tuple[float, float]) -> np.ndarray:
    """The base anchors of one level, float32 [R * S, 4], centred on `center`.

    mmdet ``gen_single_level_base_anchors``: ``h_r = sqrt(ratios)`` (ratios are h/w), ``w_r = 1/h_r``;
    with `scale_major` the ratio is the outer loop and the scale the fastest,
    ``ws = base * w_r[:, None] * scales[None, :]``; otherwise the scale is outer. Boxes are
    ``[xc - 0.5 ws, yc - 0.5 hs, xc + 0.5 ws, yc + 0.5 hs]`` with no rounding.
    """
    scales = np.asarray(scales, dtype=F32)
    h_ratios = np.sqrt(np.asarray(ratios, dtype=F32))
    w_ratios = F32(1) / h_ratios
    size = F32(base_size)
    if scale_major:
        ws = (size * w_ratios[:, None] * scales[None, :]).reshape(-1)
        hs = (size * h_ratios[:, None] * scales[None, :]).reshape(-1)
    else:
        ws = (size * scales[:, None] * w_ratios[None, :]).reshape(-1)
        hs = (size * scales[:, None] * h_ratios[None, :]).reshape(-1)
    xc, yc = F32(center[0]), F32(center[1])
    half_w, half_h = F32(0.5) * ws, F32(0.5) * hs
    return np.stack([xc - half_w, yc - half_h, xc + half_w, yc + half_h], axis=-1)


def anchor_grid_single_level(base_anchors: np.ndarray, featmap_size: tuple[int, int],
                             stride: tuple[float, float]) -> np.ndarray:
    """Base anchors float32 [A, 4] shifted over a ``(H, W)`` grid: float32 [H * W * A, 4].

    Shifts are ``(x * s_w, y * s_h)`` in float32 (mmdet ``single_level_grid_priors``), broadcast
    as ``base[None, :, :] + shifts[:, None, :]`` so the anchor index is the fastest.
    """
    feat_h, feat_w = featmap_size
    shift_x = np.arange(feat_w).astype(F32) * F32(stride[0])
    shift_y = np.arange(feat_h).astype(F32) * F32(stride[1])
    xx = np.tile(shift_x, feat_h)
    yy = np.repeat(shift_y, feat_w)
    shifts = np.stack([xx, yy, xx, yy], axis=-1)
    return (base_anchors[None, :, :] + shifts[:, None, :]).reshape(-1, 4)


def anchor_grid(base_anchors: Sequence[np.ndarray], featmap_sizes: Sequence[tuple[int, int]],
                strides: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """All levels' anchors, float32 [A, 4], and the count per level, int32 [L]."""
    levels = [anchor_grid_single_level(b, f, s) for b, f, s in zip(base_anchors, featmap_sizes, strides)]
    return _concat(levels, 4)


def mmdet_anchors(featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int],
                  ratios: Sequence[float], scales: Sequence[float] | np.ndarray,
                  base_sizes: Sequence[float] | None, center_offset: float) -> tuple[np.ndarray, np.ndarray]:
    """mmdet ``AnchorGenerator(strides, ratios, scales, base_sizes, scale_major=True, center_offset)``.

    `base_sizes` None means ``min(stride)`` per level; the base anchor centre is
    ``(offset * base, offset * base)``. Returns anchors float32 [A, 4] and int32 [L] counts.
    """
    bases = list(strides) if base_sizes is None else list(base_sizes)
    base_anchors = [anchor_base_single_level(b, scales, ratios, True, (center_offset * b, center_offset * b))
                    for b in bases]
    return anchor_grid(base_anchors, featmap_sizes, [(s, s) for s in strides])


def ssd_sizes(input_size: int, basesize_ratio_range: tuple[float, float],
              num_levels: int) -> tuple[list[int], list[int]]:
    """min/max sizes of mmdet ``SSDAnchorGenerator`` when they are not given (C.4 table).

    Copies the float64 expressions, including the hard-coded first level for 300 and 512.

    Raises:
        ValueError: for an input size or first ratio that mmdet rejects.
    """
    lo, hi = int(basesize_ratio_range[0] * 100), int(basesize_ratio_range[1] * 100)
    step = int(np.floor(hi - lo) / (num_levels - 2))
    min_sizes = [int(input_size * r / 100) for r in range(lo, hi + 1, step)]
    max_sizes = [int(input_size * (r + step) / 100) for r in range(lo, hi + 1, step)]
    first = {(300, 0.15): (7, 15), (300, 0.2): (10, 20), (512, 0.1): (4, 10), (512, 0.15): (7, 15)}
    key = (input_size, basesize_ratio_range[0])
    if key not in first:
        raise ValueError(f"SSD sizes cannot be derived for input_size {input_size} with "
                         f"basesize_ratio_range {tuple(basesize_ratio_range)}; give min_sizes/max_sizes")
    min_sizes.insert(0, int(input_size * first[key][0] / 100))
    max_sizes.insert(0, int(input_size * first[key][1] / 100))
    return min_sizes, max_sizes


def ssd_base_anchors_single_level(min_size: float, max_size: float, ratios: Sequence[float],
                                  stride: int) -> np.ndarray:
    """One SSD level's default boxes per cell, float32 [4 or 6, 4] (C.4).

    Ratios ``[1] + [1/r, r for r in ratios]``, scales ``[1, sqrt(max/min)]``, base `min_size`,
    centre ``(stride/2, stride/2)``, scale outer; then rows ``[0, R, 1, ..., R-1]`` are kept, i.e.
    min@1, sqrt(min*max)@1, then min at each other ratio.
    """
    anchor_ratios = [1.0]
    for r in ratios:
        anchor_ratios += [1 / r, r]
    scales = [1.0, float(np.sqrt(max_size / min_size))]
    center = (stride / 2.0, stride / 2.0)
    base = anchor_base_single_level(min_size, scales, anchor_ratios, False, center)
    count = len(anchor_ratios)
    keep = [0, count] + list(range(1, count))
    return base[keep]


def ssd_priors(featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int],
               ratios: Sequence[Sequence[float]], min_sizes: Sequence[float],
               max_sizes: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """mmdet ``SSDAnchorGenerator(scale_major=False)`` priors, float32 [A, 4], int32 [L] counts.

    8,732 boxes for SSD300 on (38, 19, 10, 5, 3, 1); no clipping.
    """
    bases = [ssd_base_anchors_single_level(mn, mx, r, s)
             for mn, mx, r, s in zip(min_sizes, max_sizes, ratios, strides)]
    return anchor_grid(bases, featmap_sizes, [(s, s) for s in strides])


def fcos_points_single_level(featmap_size: tuple[int, int], stride: int, offset: float) -> np.ndarray:
    """Points ``((x + offset) * s, (y + offset) * s)``, float32 [H * W, 2], x fastest.

    mmdet ``MlvlPointGenerator(offset=0.5)`` (C.8); ``offset=0`` is torchvision's convention.
    """
    feat_h, feat_w = featmap_size
    shift_x = (np.arange(feat_w).astype(F32) + F32(offset)) * F32(stride)
    shift_y = (np.arange(feat_h).astype(F32) + F32(offset)) * F32(stride)
    return np.stack([np.tile(shift_x, feat_h), np.repeat(shift_y, feat_w)], axis=-1)


def fcos_points(featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int],
                offset: float) -> tuple[np.ndarray, np.ndarray]:
    """All levels' points, float32 [N, 2], and the count per level, int32 [L]."""
    levels = [fcos_points_single_level(f, s, offset) for f, s in zip(featmap_sizes, strides)]
    return _concat(levels, 2)


def tv_anchor_base_single_level(sizes: Sequence[float], ratios: Sequence[float]) -> np.ndarray:
    """torchvision ``AnchorGenerator.generate_anchors``: ``round([-ws, -hs, ws, hs] / 2)``, float32.

    Same ratio-outer / size-fastest order as mmdet, but rounded half to even (C.3): size 32 at
    ratio 0.5 gives ``[-23, -11, 23, 11]``.
    """
    scales = np.asarray(sizes, dtype=F32)
    h_ratios = np.sqrt(np.asarray(ratios, dtype=F32))
    w_ratios = F32(1) / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / F32(2))


def tv_strides(pad_shape: tuple[int, int], featmap_sizes: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """torchvision's per-level (s_w, s_h) = padded size // grid size (integer division, C.3)."""
    return [(pad_shape[1] // w, pad_shape[0] // h) for h, w in featmap_sizes]


def tv_anchors(featmap_sizes: Sequence[tuple[int, int]], pad_shape: tuple[int, int],
               sizes: Sequence[Sequence[float]], ratios: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """torchvision ``AnchorGenerator`` priors, float32 [A, 4], int32 [L] counts.

    Integer shifts ``x * (W_pad // W_l)`` (int32) added to the rounded cell anchors; at 800x1344
    P6/P7 strides are (61, 64) and (114, 122).
    """
    bases = [tv_anchor_base_single_level(s, ratios) for s in sizes]
    return anchor_grid(bases, featmap_sizes, tv_strides(pad_shape, featmap_sizes))


def tv_default_boxes(featmap_sizes: Sequence[tuple[int, int]], steps: Sequence[int],
                     ratios: Sequence[Sequence[float]], scales: Sequence[float],
                     input_size: tuple[int, int], clip: bool) -> tuple[np.ndarray, np.ndarray]:
    """torchvision ``DefaultBoxGenerator`` boxes in pixels, float32 [A, 4], int32 [L] counts.

    Per level k: sizes ``s_k`` and ``sqrt(s_k s_{k+1})`` at ratio 1, then ``(s_k sqrt(r), s_k /
    sqrt(r))`` and its transpose per ratio; centres ``(i + 0.5) * step / size`` normalised; with
    `clip` only the normalised w, h are clamped to [0, 1]; converted to xyxy and scaled by the
    (w, h) of `input_size` (C.4).
    """
    levels = []
    for k, (fh, fw) in enumerate(featmap_sizes):
        wh = _tv_wh_pairs(scales[k], scales[k + 1], ratios[k], clip)
        cx = (np.arange(fw).astype(F32) + F32(0.5)) / F32(input_size[1] / steps[k])
        cy = (np.arange(fh).astype(F32) + F32(0.5)) / F32(input_size[0] / steps[k])
        xx, yy = np.tile(cx, fh), np.repeat(cy, fw)
        centres = np.stack([xx, yy], axis=-1)[:, None, :].repeat(len(wh), axis=1).reshape(-1, 2)
        sizes = np.tile(wh, (fh * fw, 1))
        x_y_size = np.array([input_size[1], input_size[0]], dtype=F32)
        half = F32(0.5) * sizes
        levels.append(np.concatenate([(centres - half) * x_y_size, (centres + half) * x_y_size], axis=1))
    return _concat(levels, 4)


def _tv_wh_pairs(s_k: float, s_next: float, ratios: Sequence[float], clip: bool) -> np.ndarray:
    pairs = [[s_k, s_k], [math.sqrt(s_k * s_next)] * 2]
    for r in ratios:
        sq = math.sqrt(r)
        pairs += [[s_k * sq, s_k / sq], [s_k / sq, s_k * sq]]
    wh = np.asarray(pairs, dtype=F32)
    return np.clip(wh, 0, 1) if clip else wh


def _concat(levels: list[np.ndarray], width: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([len(level) for level in levels], dtype=np.int32)
    if not levels:
        return np.zeros((0, width), dtype=F32), counts
    return np.concatenate(levels).astype(F32, copy=False), counts
