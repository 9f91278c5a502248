"""CenterNet targets exactly as mmdetection 3.3.0's ``CenterNetHead.get_targets`` computes them (C.11).

One image: keep-ratio resize into 512 x 512 and bottom/right padding to a fixed 512 x 512
(``Resize(scale=(512, 512), keep_ratio=True)`` + ``Pad(size=(512, 512))``: the deterministic
stand-in for the training pipeline's random ``RandomCenterCropPad``, which also ends in a 512
square), an output grid of stride 4 (128 x 128), then per GT k in order:

1. centre ``c = ((x1 + x2) * r_w / 2, (y1 + y2) * r_h / 2)`` with ``r = feat / input``, the peak
   cell ``c_int = trunc(c)``, the size ``(w, h) = box size * r`` (float32);
2. `gaussian_radius` with ``min_overlap = 0.3``, ``radius = max(0, int(r))``;
3. `draw_gaussian` into the GT's class channel by element-wise max (``gen_gaussian_target``);
4. at ``c_int``: ``wh = (w, h)``, ``offset = c - c_int``, weight 1; a later GT on the same cell
   overwrites.

``avg_factor = max(1, count(heatmap == 1))`` over all classes.

Storage: the dense heatmap (80 x 128 x 128 float32, 5 MB) is never stored. ``heatmap_peaks``
(class, y, x) and ``heatmap_radii`` per GT are, and `centernet_heatmap` rebuilds the float32
heatmap from them bit for bit: it is the very function `label` draws with. Against mmdetection the
rebuilt heatmap is equal to within 1 ulp: mmdet's ``exp`` is torch's float32 kernel (MKL / SLEEF,
not correctly rounded, and position-dependent), samplegen's is float64 ``exp`` rounded once, the
same on every machine. Ignore (crowd) boxes are not used: ``CenterNetHead`` drops them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors.gt_boxes import network_gts
from samplegen.anchors.labels import FIRST_POSITIVE, NEGATIVE, NO_LABEL
from samplegen.config.build import fail

F32 = np.float32
Arrays = dict[str, np.ndarray]
NOT_FITTABLE = "centernet is anchor-free: there are no anchor shapes to fit"
BACKBONE_DIVISOR = 32   # ResNet's five stride-2 stages; the neck's three deconvolutions give x8 back


@dataclass(frozen=True)
class CenterNetInput:
    """Keep-ratio ``Resize(scale=resize_scale)`` then ``Pad(size=pad_size)``, (w, h) each."""

    resize_scale: tuple[int, int]
    pad_size: tuple[int, int]
    clip_object_border: bool
    drop_outside_gt: bool


@dataclass(frozen=True)
class CenterNetHeadConfig:
    """``CenterNetHead(num_classes)`` on the neck's output, `stride` input pixels per cell."""

    num_classes: int
    stride: int


@dataclass(frozen=True)
class HeatmapConfig:
    """``gaussian_radius(min_overlap)`` as ``CenterNetHead.get_targets`` calls it."""

    min_overlap: float


@dataclass(frozen=True)
class CenterNetConfig:
    """The ``centernet`` preset (``configs/anchors/centernet.yaml``)."""

    method: Literal["centernet"]
    compat: Literal["mmdet"]
    input: CenterNetInput
    head: CenterNetHeadConfig
    heatmap: HeatmapConfig

    @property
    def strides(self) -> tuple[int, ...]:
        return (self.head.stride,)


def validate(cfg: CenterNetConfig, sources: Mapping[str, str] | None = None) -> None:
    """Range and consistency checks; raise `ConfigError` naming the dotted key and its value."""
    sources = sources or {}
    inp = cfg.input
    if min(inp.resize_scale) <= 0:
        fail("input.resize_scale", f"must be positive, got {list(inp.resize_scale)}", sources)
    if any(p % BACKBONE_DIVISOR for p in inp.pad_size) or min(inp.pad_size) <= 0:
        fail("input.pad_size", f"must be positive multiples of {BACKBONE_DIVISOR}, got {list(inp.pad_size)}",
              sources)
    if max(inp.resize_scale) > min(inp.pad_size):
        fail("input.pad_size", f"must hold the resized image (resize_scale {list(inp.resize_scale)}), "
              f"got {list(inp.pad_size)}", sources)
    if cfg.head.num_classes <= 0:
        fail("head.num_classes", f"must be positive, got {cfg.head.num_classes}", sources)
    if cfg.head.stride <= 0 or BACKBONE_DIVISOR % cfg.head.stride:
        fail("head.stride", f"must divide {BACKBONE_DIVISOR}, got {cfg.head.stride}", sources)
    if not 0.0 < cfg.heatmap.min_overlap < 1.0:
        fail("heatmap.min_overlap", f"must be in (0, 1), got {cfg.heatmap.min_overlap}", sources)


def geometry(cfg: CenterNetConfig, width: int, height: int) -> geo.InputGeometry:
    """Resized (keep ratio), padded to ``pad_size``, one output map of ``pad / stride`` cells.

    640x480 -> resized 384x512, padded 512x512, map 128x128.
    """
    new_w, new_h = geo.keep_ratio_size(width, height, cfg.input.resize_scale)
    pad_w, pad_h = cfg.input.pad_size
    s = cfg.head.stride
    return geo.InputGeometry((new_h, new_w), (pad_h, pad_w), (new_w / width, new_h / height),
                             ((pad_h // s, pad_w // s),))


def priors(cfg: CenterNetConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The output grid of input geometry `g`.

    Returns:
        points float32 [H * W, 2] ``(x * stride, y * stride)``, x fastest (mmdet decodes a peak at
        cell (x, y) with offset (ox, oy) to ``((x + ox) * stride, (y + oy) * stride)``), and
        priors_per_level int32 [1].
    """
    (feat_h, feat_w), = g.featmap_sizes
    s = F32(cfg.head.stride)
    xs, ys = np.arange(feat_w).astype(F32) * s, np.arange(feat_h).astype(F32) * s
    points = np.stack([np.tile(xs, feat_h), np.repeat(ys, feat_w)], axis=-1)
    return points, np.array([feat_h * feat_w], np.int32)


def gaussian_radius(height: np.float32, width: np.float32, min_overlap: float) -> np.float32:
    """mmdet ``gaussian_radius((h, w), min_overlap)`` on float32 sizes, float32 result (C.11).

    The three corner cases' roots ``r1 = (b1 - sqrt(b1^2 - 4 c1)) / 2``, ``r2 = (b2 - sqrt(b2^2 -
    16 c2)) / 8``, ``r3 = (b3 + sqrt(b3^2 - 16 o c3)) / (8 o)``, smallest first on ties. As in
    mmdet with tensor sizes: float32 arithmetic with the Python constants rounded to float32,
    except the square roots, which ``math.sqrt`` takes in float64. h = w = 10 at 0.3 -> 2.2614 (r2).
    """
    h, w, o = F32(height), F32(width), min_overlap
    b1 = h + w
    c1 = w * h * F32(1 - o) / F32(1 + o)
    r1 = (b1 - F32(math.sqrt(float(b1 * b1 - F32(4) * c1)))) / F32(2)
    b2 = F32(2) * (h + w)
    c2 = F32(1 - o) * w * h
    r2 = (b2 - F32(math.sqrt(float(b2 * b2 - F32(16) * c2)))) / F32(8)
    a3 = 4 * o
    b3 = F32(-2 * o) * (h + w)
    c3 = F32(o - 1) * w * h
    r3 = (b3 + F32(math.sqrt(float(b3 * b3 - F32(4 * a3) * c3)))) / F32(2 * a3)
    return min(r1, r2, r3)


def gaussian_kernel(radius: int) -> np.ndarray:
    """float32 [2r + 1, 2r + 1]: ``exp(-(x^2 + y^2) / (2 sigma^2))``, ``sigma = (2r + 1) / 6``.

    mmdet ``gaussian2D``: the exponent in float32, values below ``float32 eps * max`` set to 0;
    the exp in float64, rounded once (see the module docstring). The centre is exactly 1.
    """
    sigma = (2 * radius + 1) / 6
    x = np.arange(-radius, radius + 1, dtype=F32)
    exponent = -(x[None, :] * x[None, :] + x[:, None] * x[:, None]) / F32(2 * sigma * sigma)
    kernel = np.exp(exponent.astype(np.float64)).astype(F32)
    kernel[kernel < np.finfo(F32).eps * kernel.max()] = 0
    return kernel


def draw_gaussian(heatmap: np.ndarray, x: int, y: int, radius: int) -> None:
    """``gen_gaussian_target``: max the kernel centred on (x, y) into float32 [H, W], in place.

    The kernel is cut at the map's borders; (x, y) must lie on the map.
    """
    kernel = gaussian_kernel(radius)
    height, width = heatmap.shape
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    window = heatmap[y - top:y + bottom, x - left:x + right]
    np.maximum(window, kernel[radius - top:radius + bottom, radius - left:radius + right], out=window)


def centernet_heatmap(peaks: np.ndarray, radii: np.ndarray, num_classes: int,
                      featmap_size: tuple[int, int], classes: np.ndarray | None = None) -> np.ndarray:
    """Rebuild the class heatmaps float32 [C, H, W] from ``heatmap_peaks`` / ``heatmap_radii``.

    Args:
        peaks: int [G, 3] (class, y, x) per GT, in GT order; radii: int [G].
        num_classes: C when `classes` is None.
        featmap_size: (H, W).
        classes: optional int [K]: build only these channels, float32 [K, H, W] in this order.

    Bit-identical to the heatmap `label` computed (same drawing code, same order).
    """
    channels = np.arange(num_classes) if classes is None else np.asarray(classes)
    slot = {int(c): i for i, c in enumerate(channels)}
    maps = np.zeros((len(channels), *featmap_size), dtype=F32)
    for (cls, y, x), radius in zip(np.asarray(peaks).reshape(-1, 3).tolist(), np.asarray(radii).tolist()):
        if cls in slot:
            draw_gaussian(maps[slot[cls]], x, y, radius)
    return maps


def avg_factor(peaks: np.ndarray, radii: np.ndarray, featmap_size: tuple[int, int]) -> int:
    """``max(1, count(heatmap == 1))`` of the heatmap the peaks draw (present classes only)."""
    classes = np.unique(np.asarray(peaks).reshape(-1, 3)[:, 0])
    maps = centernet_heatmap(peaks, radii, 0, featmap_size, classes)
    return max(1, int((maps == 1).sum()))


def label(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int, height: int,
          cfg: CenterNetConfig, rng: np.random.Generator | None = None, proposals: np.ndarray | None = None,
          with_max_iou: bool = True) -> Arrays:
    """Label one image as ``CenterNetHead.loss_by_feat`` does at training time.

    Args:
        gt_boxes: float32 [G, 4] x1 y1 x2 y2, original pixels; gt_labels: int [G] in
            [0, num_classes). ``input.drop_outside_gt`` leaves out boxes not overlapping the image.
        ignore_boxes: accepted for the common signature and unused (the head drops them).
        width, height: original image size.
        cfg: a validated `CenterNetConfig`.
        rng: unused (nothing is sampled).

    Returns:
        Over the A = H * W output cells (x fastest): ``assigned_gt`` int32 [A] (k + 1 for the GT
        whose wh / offset target the cell holds, i.e. the last GT peaking there; NEGATIVE
        elsewhere), ``labels`` int32 [A]; ``pos_inds`` int32 [P] (the cells of weight 1,
        ascending) and ``pos_targets`` float32 [P, 4] ``(w, h, offset_x, offset_y)`` there;
        ``heatmap_peaks`` int32 [G, 3] (class, y, x) and ``heatmap_radii`` int32 [G] (rebuild
        with `centernet_heatmap`); ``avg_factor`` int32 []; ``priors_per_level`` int32 [1]; the
        geometry arrays (``img_shape``, ``pad_shape``, ``scale_factor``, ``gt_boxes``,
        ``gt_labels`` in network-input pixels).

    Raises:
        ValueError: malformed arrays, a class outside [0, num_classes), or a centre off the
            output grid (only possible without clipping; mmdet indexes out of range there).
    """
    del ignore_boxes, rng, proposals
    g = geometry(cfg, width, height)
    gts, classes, _ = network_gts(gt_boxes, gt_labels, None, width, height, g, cfg.input)
    if len(classes) and (classes.min() < 0 or classes.max() >= cfg.head.num_classes):
        raise ValueError(f"gt_labels must lie in [0, {cfg.head.num_classes}), got {classes.min()}..{classes.max()}")
    (feat_h, feat_w), = g.featmap_sizes
    peaks, radii, assigned, targets = _peaks(gts, classes, (feat_h, feat_w), g.pad_shape, cfg.heatmap.min_overlap)
    pos = np.flatnonzero(assigned >= FIRST_POSITIVE)
    labels = np.full(len(assigned), NO_LABEL, np.int32)
    labels[pos] = classes[assigned[pos] - FIRST_POSITIVE]
    out = {"assigned_gt": assigned, "labels": labels, "pos_inds": pos.astype(np.int32), "pos_targets": targets[pos],
           "heatmap_peaks": peaks, "heatmap_radii": radii,
           "avg_factor": np.array(avg_factor(peaks, radii, (feat_h, feat_w)), np.int32),
           "priors_per_level": np.array([feat_h * feat_w], np.int32)}
    out.update(geo.geometry_arrays(g, gts, classes))
    return out


def _peaks(gts: np.ndarray, classes: np.ndarray, featmap_size: tuple[int, int], pad_shape: tuple[int, int],
           min_overlap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Steps 1, 2 and 4 per GT, in order: peaks int32 [G, 3], radii int32 [G], the per-cell last
    GT (assigned_gt int32 [A]) and per-cell targets float32 [A, 4]."""
    feat_h, feat_w = featmap_size
    # float(feat / input) in float64, then rounded to float32 where it meets a float32 tensor
    ratio_w, ratio_h = F32(float(feat_w / pad_shape[1])), F32(float(feat_h / pad_shape[0]))
    cx = (gts[:, 0] + gts[:, 2]) * ratio_w / F32(2)
    cy = (gts[:, 1] + gts[:, 3]) * ratio_h / F32(2)
    box_w, box_h = (gts[:, 2] - gts[:, 0]) * ratio_w, (gts[:, 3] - gts[:, 1]) * ratio_h
    x_int, y_int = np.trunc(cx).astype(np.int64), np.trunc(cy).astype(np.int64)
    off = (x_int < 0) | (x_int >= feat_w) | (y_int < 0) | (y_int >= feat_h)
    if off.any():
        raise ValueError(f"a GT centre lies off the {feat_h}x{feat_w} output grid")
    radii = np.array([max(0, int(gaussian_radius(h, w, min_overlap))) for h, w in zip(box_h, box_w)], np.int32)
    assigned = np.full(feat_h * feat_w, NEGATIVE, np.int32)
    targets = np.zeros((feat_h * feat_w, 4), F32)
    cells = y_int * feat_w + x_int
    for k, cell in enumerate(cells.tolist()):        # in GT order: a later GT overwrites
        assigned[cell] = k + FIRST_POSITIVE
        targets[cell] = (box_w[k], box_h[k], cx[k] - F32(x_int[k]), cy[k] - F32(y_int[k]))
    peaks = np.stack([classes, y_int, x_int], axis=1).astype(np.int32).reshape(-1, 3)
    return peaks, radii, assigned, targets
