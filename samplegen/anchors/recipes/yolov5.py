"""YOLOv5 targets exactly as ultralytics YOLOv5 (the ``yolov5`` package 7.0.14) builds them.

Input geometry: ``LoadImagesAndLabels(augment=False, rect=False)``, the loader's deterministic
path (training with ``augment=True`` takes the random mosaic instead): ``load_image`` resizes the
long side to ``img_size`` (sides
``ceil(side * r)``), ``letterbox(img, img_size, auto=False, scaleup=False)`` pads it to an
``img_size`` square, centred (float pads ``(dw, dh)``, images padded ``round(dh -+ 0.1)``). The
labels follow the loader's float32 chain: YOLO rows ``(cls, cx, cy, w, h)`` normalised to the
original image, ``xywhn2xyxy`` into the letterboxed image (with the float pad), clipped to
``img_size - 1e-3``, ``xyxy2xywhn`` back. Mosaic, mixup, ``random_perspective``, HSV and flips
(``--img 640`` training's defaults) are random and not reproduced.

Assignment: ``utils/loss.py`` ``ComputeLoss.build_targets``, per level (P3, P4, P5):

1. targets in grid units ``t = xywhn * (W, H)``, anchors in grid units (pixels / stride);
2. shape match per anchor: ``max(r, 1 / r).max() < anchor_t`` with ``r = wh / anchor``;
3. each match in its cell plus the left / top neighbour when ``x % 1 < 0.5 and x > 1`` (same for
   y) and the right / bottom one when ``(W - x) % 1 < 0.5 and W - x > 1``; order: offset
   (none, left, top, right, bottom), then anchor, then target;
4. ``gij = trunc(xy - offset)``, clamped to the grid *in place*, so ``tbox = (xy - gij, wh)`` uses
   the clamped cell.

The loss uses every (target, anchor, cell) triple, duplicates included: the ``target_*`` arrays are
the reference's ``indices`` / ``tbox`` / ``anch`` / ``tcls``. The per-prior view (``assigned_gt``,
``pos_inds``) keeps, where several triples hit one prior, the last in that order. AutoAnchor
(``check_anchors``) may replace the anchors at the start of a real run when they fit the data badly;
the preset holds yolov5s.yaml's (train with ``--noautoanchor`` to keep them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors.fit_search import Criterion, FitBoxes, FitSpace
from samplegen.anchors.gt_boxes import kept_gts
from samplegen.anchors.kmeans import kmeans_iou
from samplegen.anchors.labels import FIRST_POSITIVE, NEGATIVE, NO_LABEL
from samplegen.config.build import fail

F32 = np.float32
Arrays = dict[str, np.ndarray]
Pair = tuple[float, float]
# build_targets' ``off`` matrix: own cell, then x-1, y-1, x+1, y+1 neighbours (times the bias)
NEIGHBOURS = np.array([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=F32)


@dataclass(frozen=True)
class Yolov5Input:
    """``LoadImagesAndLabels(img_size, augment=False)``: load_image + letterbox + label clip."""

    img_size: int
    scaleup: bool
    label_clip_eps: float
    drop_outside_gt: bool


@dataclass(frozen=True)
class Yolov5AnchorsConfig:
    """The ``Detect`` layer: strides and per-level anchor (w, h) in input pixels (model yaml)."""

    strides: tuple[int, ...]
    anchors: tuple[tuple[Pair, ...], ...]


@dataclass(frozen=True)
class Yolov5AssignerConfig:
    """``build_targets``: hyp ``anchor_t`` and the neighbour-cell bias ``g``."""

    anchor_t: float
    offset_bias: float


@dataclass(frozen=True)
class Yolov5Config:
    """The ``yolov5`` preset (``configs/anchors/yolov5.yaml``)."""

    method: Literal["yolov5"]
    compat: Literal["ultralytics"]
    input: Yolov5Input
    prior_generator: Yolov5AnchorsConfig
    assigner: Yolov5AssignerConfig

    @property
    def strides(self) -> tuple[int, ...]:
        return self.prior_generator.strides


@dataclass(frozen=True)
class Letterbox:
    """One image through ``load_image`` + ``letterbox``.

    Attributes:
        geometry: img_shape = the letterboxed content (h, w), pad_shape = (img_size, img_size),
            scale_factor = content / original per axis, one map per stride.
        content: (w, h) the labels are scaled to, ``ratio * load_image size`` (floats).
        pad: (dw, dh) the labels are shifted by (half the padding, may end in .5).
    """

    geometry: geo.InputGeometry
    content: tuple[float, float]
    pad: tuple[float, float]


def validate(cfg: Yolov5Config, sources: Mapping[str, str] | None = None) -> None:
    """Range and consistency checks; raise `ConfigError` naming the dotted key and its value."""
    sources = sources or {}
    gen = cfg.prior_generator
    if not gen.strides or min(gen.strides) <= 0:
        fail("prior_generator.strides", f"must be positive, got {list(gen.strides)}", sources)
    if cfg.input.img_size <= 0 or any(cfg.input.img_size % s for s in gen.strides):
        fail("input.img_size", f"must be a positive multiple of every stride {list(gen.strides)}, "
              f"got {cfg.input.img_size}", sources)
    if not 0.0 <= cfg.input.label_clip_eps < 1.0:
        fail("input.label_clip_eps", f"must be in [0, 1), got {cfg.input.label_clip_eps}", sources)
    if len(gen.anchors) != len(gen.strides):
        fail("prior_generator.anchors", f"needs one list per level ({len(gen.strides)} strides), "
              f"got {len(gen.anchors)}", sources)
    if len({len(level) for level in gen.anchors}) != 1 or not gen.anchors[0]:
        fail("prior_generator.anchors", "every level needs the same, non-zero number of anchors", sources)
    if any(v <= 0 for level in gen.anchors for pair in level for v in pair):
        fail("prior_generator.anchors", "anchor sizes must be positive", sources)
    if cfg.assigner.anchor_t <= 1.0:
        fail("assigner.anchor_t", f"must be > 1, got {cfg.assigner.anchor_t}", sources)
    if not 0.0 <= cfg.assigner.offset_bias <= 1.0:
        fail("assigner.offset_bias", f"must be in [0, 1], got {cfg.assigner.offset_bias}", sources)


def letterbox_geometry(cfg: Yolov5Config, width: int, height: int) -> Letterbox:
    """``load_image`` then ``letterbox(auto=False, scaleup)``, in the loaders' float64 arithmetic.

    640x480 at 640 -> content 640x480, pad (0, 80); 500x375 -> resized to 640x480 first;
    1333x800 -> 640x385 (ceil), pad (0, 127.5).
    """
    size = cfg.input.img_size
    r0 = size / max(height, width)
    w, h = (math.ceil(width * r0), math.ceil(height * r0)) if r0 != 1 else (width, height)
    r = min(size / h, size / w)
    if not cfg.input.scaleup:
        r = min(r, 1.0)
    new_w, new_h = int(round(w * r)), int(round(h * r))
    pad = ((size - new_w) / 2, (size - new_h) / 2)
    maps = tuple((size // s, size // s) for s in cfg.prior_generator.strides)
    g = geo.InputGeometry((new_h, new_w), (size, size), (new_w / width, new_h / height), maps)
    return Letterbox(g, (r * w, r * h), pad)


def grid_anchors(gen: Yolov5AnchorsConfig) -> list[np.ndarray]:
    """Per level float32 [na, 2] anchors in grid units: ``anchors / stride`` (``Model.__init__``)."""
    return [np.asarray(level, F32) / F32(s) for level, s in zip(gen.anchors, gen.strides)]


def geometry(cfg: Yolov5Config, width: int, height: int) -> geo.InputGeometry:
    """The letterboxed input (`letterbox_geometry`) as the other methods' geometry."""
    return letterbox_geometry(cfg, width, height).geometry


def priors(cfg: Yolov5Config, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The reference boxes of the predictions, float32 [A, 4], and int32 [L] counts.

    Levels P3, P4, P5; within a level YOLOv5's prediction layout ``(a, y, x)``, x fastest (not
    mmdet's ``(y, x, a)``). Box of (a, y, x): centre ``((x + 0.5) s, (y + 0.5) s)`` (a zero
    prediction decodes there) and the anchor's size. 25,200 at 640. The image size does not
    matter: every image is letterboxed to the same square.
    """
    levels = []
    for (feat_h, feat_w), s, level in zip(g.featmap_sizes,
                                          cfg.prior_generator.strides, cfg.prior_generator.anchors):
        half = np.asarray(level, F32) / F32(2)
        xs = (np.arange(feat_w).astype(F32) + F32(0.5)) * F32(s)
        ys = (np.arange(feat_h).astype(F32) + F32(0.5)) * F32(s)
        cx = np.tile(np.tile(xs, feat_h), len(level))
        cy = np.tile(np.repeat(ys, feat_w), len(level))
        hw = np.repeat(half, feat_h * feat_w, axis=0)
        levels.append(np.stack([cx - hw[:, 0], cy - hw[:, 1], cx + hw[:, 0], cy + hw[:, 1]], axis=1))
    return np.concatenate(levels), np.array([len(v) for v in levels], np.int32)


def yolo_rows(gt_boxes: np.ndarray, gt_labels: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """YOLO label rows float32 [K, 5] (cls, cx, cy, w, h) as the loader keeps them, and their
    source indices int64 [K] into `gt_boxes`.

    Rows are normalised in float64 and rounded to float32 (what a label file written with full
    float32 precision holds). A row the loader's ``verify_image_label`` rejects (a negative value
    or a coordinate above 1) would make it skip the *whole image*; here only that row is left out.
    Exact duplicates are removed with ``np.unique(rows, axis=0)``, which also sorts the rows, as
    the loader does (only when there is a duplicate).
    """
    b = gt_boxes.astype(np.float64)
    rows = np.stack([np.asarray(gt_labels, np.float64), (b[:, 0] + b[:, 2]) / 2 / width,
                     (b[:, 1] + b[:, 3]) / 2 / height, (b[:, 2] - b[:, 0]) / width,
                     (b[:, 3] - b[:, 1]) / height], axis=1).astype(F32).reshape(-1, 5)
    source = np.flatnonzero((rows >= 0).all(axis=1) & (rows[:, 1:] <= 1).all(axis=1))
    rows = rows[source]
    _, first = np.unique(rows, axis=0, return_index=True)
    if len(first) < len(rows):
        rows, source = rows[first], source[first]
    return rows, source


def letterbox_labels(rows: np.ndarray, lb: Letterbox, clip_eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows [K, 5] -> (network xyxy float32 [K, 4], xywh normalised to the square float32 [K, 4]).

    ``xywhn2xyxy(x, w, h, padw, padh)`` then ``xyxy2xywhn(..., clip=True, eps)``, float32 with the
    Python scalars rounded to float32 as numpy does.
    """
    cw, ch = F32(lb.content[0]), F32(lb.content[1])
    pw, ph = F32(lb.pad[0]), F32(lb.pad[1])
    two = F32(2)
    cx, cy, w, h = rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    xyxy = np.stack([cw * (cx - w / two) + pw, ch * (cy - h / two) + ph,
                     cw * (cx + w / two) + pw, ch * (cy + h / two) + ph], axis=1).astype(F32)
    size_h, size_w = lb.geometry.pad_shape
    xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], F32(0), F32(size_w - clip_eps))
    xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], F32(0), F32(size_h - clip_eps))
    xywhn = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / two / F32(size_w), (xyxy[:, 1] + xyxy[:, 3]) / two / F32(size_h),
                      (xyxy[:, 2] - xyxy[:, 0]) / F32(size_w), (xyxy[:, 3] - xyxy[:, 1]) / F32(size_h)], axis=1)
    return xyxy, xywhn.astype(F32).reshape(-1, 4)


def build_targets_single_level(xywhn: np.ndarray, anchors: np.ndarray, featmap_size: tuple[int, int],
                               anchor_t: float, bias: float) -> Arrays:
    """Steps 1-4 of the module docstring on one level.

    Args:
        xywhn: float32 [N, 4] targets normalised to the square input.
        anchors: float32 [na, 2] in grid units.
        featmap_size: (ny, nx).

    Returns:
        ``gt`` int64 [T] (target row), ``anchor`` int64 [T], ``gj`` / ``gi`` int64 [T] (clamped
        cell), ``box`` float32 [T, 4] (x - gi, y - gj, w, h in grid units), ``anchor_wh`` float32
        [T, 2]; T = 0 when N = 0.
    """
    ny, nx = featmap_size
    gain = np.array([nx, ny], F32)
    gxy_all, gwh_all = xywhn[:, :2] * gain, xywhn[:, 2:] * gain
    ratio = gwh_all[None, :, :] / anchors[:, None, :]                     # [na, N, 2]
    match = np.maximum(ratio, F32(1) / ratio).max(axis=2) < F32(anchor_t)
    a_idx, t_idx = np.nonzero(match)                                     # anchor-major, as t[j]
    gxy = gxy_all[t_idx]
    gxi = gain - gxy
    g = F32(bias)
    near = ((gxy % F32(1) < g) & (gxy > 1)).T                            # j (x-1), k (y-1)
    far = ((gxi % F32(1) < g) & (gxi > 1)).T                             # l (x+1), m (y+1)
    o_idx, n_idx = np.nonzero(np.concatenate([np.ones((1, len(gxy)), bool), near, far]))
    xy = gxy[n_idx]
    cells = np.trunc(xy - NEIGHBOURS[o_idx] * g).astype(np.int64)
    gi, gj = np.clip(cells[:, 0], 0, nx - 1), np.clip(cells[:, 1], 0, ny - 1)
    box = np.concatenate([xy - np.stack([gi, gj], axis=1).astype(F32), gwh_all[t_idx][n_idx]], axis=1)
    a = a_idx[n_idx]
    return {"gt": t_idx[n_idx], "anchor": a, "gj": gj, "gi": gi, "box": box.astype(F32).reshape(-1, 4),
            "anchor_wh": anchors[a].reshape(-1, 2)}


def build_targets(xywhn: np.ndarray, cfg: Yolov5Config, featmap_sizes: Sequence[tuple[int, int]]) -> list[Arrays]:
    """`build_targets_single_level` on every level, P3 first."""
    return [build_targets_single_level(xywhn, anchors, size, cfg.assigner.anchor_t, cfg.assigner.offset_bias)
            for anchors, size in zip(grid_anchors(cfg.prior_generator), featmap_sizes)]


def label(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int, height: int,
          cfg: Yolov5Config, rng: np.random.Generator | None = None, proposals: np.ndarray | None = None,
          with_max_iou: bool = True) -> Arrays:
    """Label one image as ``ComputeLoss.build_targets`` does for the non-augmented loader.

    Args:
        gt_boxes: float32 [G, 4] x1 y1 x2 y2, original pixels; gt_labels: int [G] >= 0. With
            ``input.drop_outside_gt`` boxes not overlapping the image are left out first; then
            see `yolo_rows` (invalid rows left out, duplicates removed and the rows sorted).
        ignore_boxes: unused (YOLO label files have no crowd boxes).
        width, height: original image size.
        cfg: a validated `Yolov5Config`.
        rng: unused.

    Returns:
        The reference's targets, concatenated over levels (T in all, ``targets_per_level`` int32
        [L]): ``target_gt`` int32 [T] (row of ``gt_boxes``), ``target_anchor`` int32 [T],
        ``target_cell`` int32 [T, 2] (gj, gi), ``target_box`` float32 [T, 4] (tbox),
        ``target_anchor_wh`` float32 [T, 2] (anch, grid units), ``target_cls`` int32 [T] (tcls),
        ``target_prior`` int32 [T] (flat index into `priors`); the per-prior view over A priors:
        ``assigned_gt`` int32 [A] (NEGATIVE 0 or k + 1 of the last triple, no IGNORE: YOLOv5's
        objectness loss uses every other prior as a negative), ``labels`` int32 [A], ``pos_inds``
        int32 [P], ``pos_targets`` float32 [P, 4]; ``priors_per_level`` int32 [L]; ``img_shape``
        / ``pad_shape`` int32 [2], ``scale_factor`` float64 [2], ``letterbox_pad`` float64 [2]
        (dw, dh); ``gt_boxes`` float32 [K, 4] (letterboxed, clipped), ``gt_labels`` int32 [K] and
        ``gt_source`` int32 [K] (index into the input boxes).
    """
    del ignore_boxes, rng, proposals
    lb = letterbox_geometry(cfg, width, height)
    boxes, classes, kept = kept_gts(gt_boxes, gt_labels, width, height, cfg.input.drop_outside_gt)
    rows, source = yolo_rows(boxes, classes.astype(np.int64), width, height)
    source = kept[source]
    xyxy, xywhn = letterbox_labels(rows, lb, cfg.input.label_clip_eps)
    levels = build_targets(xywhn, cfg, lb.geometry.featmap_sizes)
    out = _flatten(levels, rows[:, 0].astype(np.int32), cfg, lb.geometry.featmap_sizes)
    g = lb.geometry
    out.update({"img_shape": np.array(g.img_shape, np.int32), "pad_shape": np.array(g.pad_shape, np.int32),
                "scale_factor": np.array(g.scale_factor, np.float64), "letterbox_pad": np.array(lb.pad, np.float64),
                "gt_boxes": xyxy, "gt_labels": rows[:, 0].astype(np.int32), "gt_source": source.astype(np.int32)})
    return out


def _flatten(levels: list[Arrays], classes: np.ndarray, cfg: Yolov5Config,
             featmap_sizes: Sequence[tuple[int, int]]) -> Arrays:
    """Concatenate the levels and derive the per-prior view (last triple per prior wins)."""
    na = len(cfg.prior_generator.anchors[0])
    counts = np.array([na * h * w for h, w in featmap_sizes], np.int32)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    prior = np.concatenate([start + (lv["anchor"] * h + lv["gj"]) * w + lv["gi"]
                            for lv, start, (h, w) in zip(levels, starts, featmap_sizes)]).astype(np.int64)
    gt = np.concatenate([lv["gt"] for lv in levels]).astype(np.int64)
    boxes = np.concatenate([lv["box"] for lv in levels]).reshape(-1, 4)
    assigned = np.full(int(counts.sum()), NEGATIVE, np.int32)
    assigned[prior] = gt + FIRST_POSITIVE          # numpy fancy assignment: the last duplicate wins
    pos = np.flatnonzero(assigned >= FIRST_POSITIVE)
    last = np.full(len(assigned), -1, np.int64)
    last[prior] = np.arange(len(prior))
    labels = np.full(len(assigned), NO_LABEL, np.int32)
    labels[pos] = classes[assigned[pos] - FIRST_POSITIVE]
    return {"target_gt": gt.astype(np.int32),
            "target_anchor": np.concatenate([lv["anchor"] for lv in levels]).astype(np.int32),
            "target_cell": np.stack([np.concatenate([lv["gj"] for lv in levels]),
                                     np.concatenate([lv["gi"] for lv in levels])], axis=1).astype(np.int32),
            "target_box": boxes, "target_anchor_wh": np.concatenate([lv["anchor_wh"] for lv in levels]).reshape(-1, 2),
            "target_cls": classes[gt].astype(np.int32), "target_prior": prior.astype(np.int32),
            "targets_per_level": np.array([len(lv["gt"]) for lv in levels], np.int32),
            "assigned_gt": assigned, "labels": labels, "pos_inds": pos.astype(np.int32),
            "pos_targets": boxes[last[pos]].reshape(-1, 4), "priors_per_level": counts}


def fit_boxes(cfg: Yolov5Config, gt_boxes: np.ndarray, gt_labels: np.ndarray, width: int, height: int) -> np.ndarray:
    """The GT boxes float32 [K, 4] as `label` sees them: letterboxed into the square, clipped."""
    lb = letterbox_geometry(cfg, width, height)
    boxes, classes, _ = kept_gts(gt_boxes, gt_labels, width, height, cfg.input.drop_outside_gt)
    rows, _ = yolo_rows(boxes, classes.astype(np.int64), width, height)
    return letterbox_labels(rows, lb, cfg.input.label_clip_eps)[0]


def shape_ratio_scores(wh: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """float64 [G]: per box, the best over anchors of ``min(r, 1 / r)`` over both axes, ``r = wh /
    anchor``; ``build_targets`` matches an anchor when this exceeds ``1 / anchor_t``."""
    if len(wh) == 0:
        return np.zeros(0)
    r = wh[:, None, :] / anchors[None, :, :]
    return np.minimum(r, 1 / r).min(axis=2).max(axis=1)


def fit_space(cfg: Yolov5Config, fit: FitBoxes, rng: np.random.Generator) -> FitSpace:
    """``fit-anchors``: the log (w, h) of every anchor, scored as ``build_targets`` matches
    shapes (`shape_ratio_scores` against ``1 / anchor_t``, the best possible recall AutoAnchor
    reports, then the mean best ratio); the extra start is 1 - IoU k-means over the box shapes.
    Suggested sorted by area, the smallest on P3, as ``check_anchor_order`` wants them."""
    gen = cfg.prior_generator
    levels, per_level = len(gen.strides), len(gen.anchors[0])
    wh = np.maximum(fit.wh, 1e-6)

    def anchors_of(theta: np.ndarray) -> np.ndarray:
        pairs = np.round(np.exp(theta), 1).reshape(-1, 2)
        return pairs[np.argsort(pairs[:, 0] * pairs[:, 1], kind="stable")]

    def overrides(theta: np.ndarray) -> dict:
        return {"prior_generator": {"anchors": anchors_of(theta).reshape(levels, per_level, 2).tolist()}}

    kmeans = np.log(np.maximum(kmeans_iou(wh, levels * per_level, rng), 1e-3)).reshape(-1)
    return FitSpace(np.log(np.asarray(gen.anchors, np.float64)).reshape(-1), (kmeans,),
                    lambda theta: (shape_ratio_scores(wh, anchors_of(theta)), None), overrides,
                    Criterion(1 / cfg.assigner.anchor_t, None, "shape_ratio"))


LETTERBOX_FILL = (114, 114, 114)     # letterbox()'s border colour


def network_input(cfg: Yolov5Config, pixels: np.ndarray) -> np.ndarray:
    """uint8 [S, S, 3]: the image as ``load_image`` + ``letterbox(auto=False)`` make it (no augment):
    long side resized to ``ceil(side * r)`` (INTER_AREA when shrinking, INTER_LINEAR otherwise),
    resized again to the letterbox content if that differs, centred on a (114, 114, 114) square
    with ``round(d -+ 0.1)`` borders."""
    import cv2

    height, width = pixels.shape[:2]
    size = cfg.input.img_size
    r0 = size / max(height, width)
    if r0 != 1:
        interpolation = cv2.INTER_LINEAR if r0 > 1 else cv2.INTER_AREA
        pixels = cv2.resize(pixels, (math.ceil(width * r0), math.ceil(height * r0)), interpolation=interpolation)
    lb = letterbox_geometry(cfg, width, height)
    new_h, new_w = lb.geometry.img_shape
    if pixels.shape[:2] != (new_h, new_w):
        pixels = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = lb.pad
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return cv2.copyMakeBorder(pixels, top, bottom, left, right, cv2.BORDER_CONSTANT, value=LETTERBOX_FILL)
