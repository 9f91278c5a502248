"""YOLOv3 targets exactly as mmdetection 3.3.0's ``YOLOV3Head`` computes them (reference-semantics C.10).

One image: keep-ratio resize into the square input (608 or 416) and bottom/right padding to a
multiple of 32 (``Resize(scale, keep_ratio=True)`` + ``DetDataPreprocessor(pad_size_divisor=32)``,
the deterministic part of mmdet's yolov3 pipelines; ``Expand``, ``MinIoURandomCrop``,
``RandomResize`` and ``RandomFlip`` are random and not reproduced), then

1. `yolo_priors`: ``YOLOAnchorGenerator`` anchors, coarsest level first (strides 32, 16, 8), three
   (w, h) base sizes per level centred on the cell centre ``(x s + s/2, y s + s/2)``; flat index
   within a level ``(y W + x) A + a`` (C.3's order, checked against mmdet);
2. `responsible_flags`: per level the cell ``(floor(cy / s), floor(cx / s))`` of every GT centre
   flags all of its anchors (``YOLOV3Head.responsible_flags``);
3. `assign_grid`: ``GridAssigner(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0)``;
4. ``PseudoSampler``: every positive and negative is used (no ``sampled`` array);
5. `encode_yolo`: ``YOLOBBoxCoder(eps=1e-6)`` targets ``(tx, ty, tw, th)``.

The head's target map is ``[tx, ty, tw, th, conf, one-hot]`` per anchor: ``pos_targets`` holds the
first four for the positives, ``conf`` is 1 exactly at ``pos_inds``, the one-hot row is
``labels[pos_inds]`` and the negative map is ``assigned_gt == NEGATIVE``. Ignore (crowd) boxes are
not used: mmdet hands them to the head as ``ignored_instances``, which ``YOLOV3Head`` drops.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors.assign.result import Assignment
from samplegen.anchors.config import ResizeInput
from samplegen.anchors.fit_search import Criterion, FitBoxes, FitSpace, grid_best_iou
from samplegen.anchors.gt_boxes import network_gts
from samplegen.anchors.kmeans import kmeans_iou
from samplegen.anchors.labels import FIRST_POSITIVE, IGNORE, NEGATIVE, NO_LABEL
from samplegen.anchors.prior_cache import memo
from samplegen.anchors.priors import anchor_grid
from samplegen.config.build import fail
from samplegen.boxes import iou

F32 = np.float32
Arrays = dict[str, np.ndarray]
Pair = tuple[float, float]


@dataclass(frozen=True)
class YoloAnchorGeneratorConfig:
    """``YOLOAnchorGenerator(strides, base_sizes)``: per level, (w, h) sizes in input pixels."""

    strides: tuple[int, ...]
    base_sizes: tuple[tuple[Pair, ...], ...]


@dataclass(frozen=True)
class GridAssignerConfig:
    """``GridAssigner`` arguments; see `assign_grid`."""

    pos_iou_thr: float
    neg_iou_thr: float | tuple[float, float]
    min_pos_iou: float
    gt_max_assign_all: bool


@dataclass(frozen=True)
class YoloCoderConfig:
    """``YOLOBBoxCoder(eps)``: the clamp of the centre targets and of the w / h ratios."""

    eps: float


@dataclass(frozen=True)
class Yolov3Config:
    """The ``yolov3`` preset (``configs/anchors/yolov3.yaml``, 608; ``yolov3_416.yaml``)."""

    method: Literal["yolov3"]
    compat: Literal["mmdet"]
    input: ResizeInput
    prior_generator: YoloAnchorGeneratorConfig
    assigner: GridAssignerConfig
    coder: YoloCoderConfig

    @property
    def strides(self) -> tuple[int, ...]:
        return self.prior_generator.strides


def validate(cfg: Yolov3Config, sources: Mapping[str, str] | None = None) -> None:
    """Range and consistency checks; raise `ConfigError` naming the dotted key and its value."""
    sources = sources or {}
    inp, gen, a = cfg.input, cfg.prior_generator, cfg.assigner
    if min(inp.resize_scale) <= 0:
        fail("input.resize_scale", f"must be positive, got {list(inp.resize_scale)}", sources)
    if inp.pad_size_divisor <= 0:
        fail("input.pad_size_divisor", f"must be positive, got {inp.pad_size_divisor}", sources)
    if not gen.strides or min(gen.strides) <= 0:
        fail("prior_generator.strides", f"must be positive, got {list(gen.strides)}", sources)
    if len(gen.base_sizes) != len(gen.strides):
        fail("prior_generator.base_sizes", f"needs one list per level ({len(gen.strides)} strides), "
              f"got {len(gen.base_sizes)}", sources)
    if len({len(level) for level in gen.base_sizes}) != 1 or not gen.base_sizes[0]:
        fail("prior_generator.base_sizes", "every level needs the same, non-zero number of sizes", sources)
    if any(inp.pad_size_divisor % s for s in gen.strides):
        fail("input.pad_size_divisor", f"must be a multiple of every stride {list(gen.strides)}, "
              f"got {inp.pad_size_divisor}", sources)
    if not 0.0 <= a.pos_iou_thr <= 1.0:
        fail("assigner.pos_iou_thr", f"must be in [0, 1], got {a.pos_iou_thr}", sources)
    top = a.neg_iou_thr[1] if isinstance(a.neg_iou_thr, tuple) else a.neg_iou_thr
    if not 0.0 <= top <= a.pos_iou_thr:
        fail("assigner.neg_iou_thr", f"must satisfy 0 <= neg <= pos_iou_thr ({a.pos_iou_thr}), "
              f"got {a.neg_iou_thr}", sources)
    if not 0.0 <= a.min_pos_iou <= 1.0:
        fail("assigner.min_pos_iou", f"must be in [0, 1], got {a.min_pos_iou}", sources)
    if not 0.0 < cfg.coder.eps < 0.5:
        fail("coder.eps", f"must be in (0, 0.5), got {cfg.coder.eps}", sources)


def geometry(cfg: Yolov3Config, width: int, height: int) -> geo.InputGeometry:
    """How YOLOv3 sees a ``width x height`` image: resized, padded, maps ``ceil(pad / s)`` per level.

    Darknet-53's stride-2 3x3 convolutions (padding 1) round up, like ResNet's (C.2); a padded side
    is a multiple of 32 anyway. 640x480 at 608 -> resized 456x608, padded 480x608, maps 15x19,
    30x38, 60x76.
    """
    inp = cfg.input
    return geo.keep_ratio_geometry(width, height, inp.resize_scale, inp.pad_size_divisor,
                                   cfg.prior_generator.strides)


def yolo_base_anchors_single_level(sizes: Sequence[Pair], stride: int) -> np.ndarray:
    """float32 [A, 4]: ``[c - w/2, c - h/2, c + w/2, c + h/2]`` with ``c = stride / 2``.

    Computed in float64 and rounded once, as mmdet builds them with ``torch.Tensor([...])`` from
    Python floats: stride 32, (116, 90) -> [-42, -29, 74, 61].
    """
    centre = stride / 2.0
    return np.array([[centre - 0.5 * w, centre - 0.5 * h, centre + 0.5 * w, centre + 0.5 * h]
                     for w, h in sizes], dtype=F32)


def yolo_priors(featmap_sizes: Sequence[tuple[int, int]],
                gen: YoloAnchorGeneratorConfig) -> tuple[np.ndarray, np.ndarray]:
    """All levels' anchors float32 [A, 4] (coarsest level first) and int32 [L] counts.

    22,743 anchors at 608 x 608 (19x19, 38x38, 76x76 cells, 3 each).
    """
    bases = [yolo_base_anchors_single_level(sizes, s) for sizes, s in zip(gen.base_sizes, gen.strides)]
    return anchor_grid(bases, featmap_sizes, [(s, s) for s in gen.strides])


def priors(cfg: Yolov3Config, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The anchors `label` uses for input geometry `g`.

    Returns:
        priors float32 [A, 4] x1 y1 x2 y2 in network-input pixels and priors_per_level int32 [L].
    """
    return yolo_priors(g.featmap_sizes, cfg.prior_generator)


def responsible_flags(gt_boxes: np.ndarray, featmap_sizes: Sequence[tuple[int, int]], strides: Sequence[int],
                      num_base: int) -> np.ndarray:
    """bool [A]: anchors of the cells holding a GT centre, per level (``YOLOV3Head.responsible_flags``).

    ``cx = (x1 + x2) * 0.5`` in float32, cell ``floor(cx / s)``, flat cell ``gy W + gx``. Like
    torch's indexing a negative flat cell counts from the end of the level (only possible for a
    centre left of or above the image, i.e. without ``clip_object_border``).

    Raises:
        ValueError: a centre past the last cell of a level (mmdet raises an IndexError there).
    """
    levels = []
    cx = (gt_boxes[:, 0] + gt_boxes[:, 2]) * F32(0.5)
    cy = (gt_boxes[:, 1] + gt_boxes[:, 3]) * F32(0.5)
    for (feat_h, feat_w), s in zip(featmap_sizes, strides):
        cells = np.floor(cy / F32(s)).astype(np.int64) * feat_w + np.floor(cx / F32(s)).astype(np.int64)
        if len(cells) and cells.max() >= feat_h * feat_w:
            raise ValueError(f"a GT centre lies past the last {feat_h}x{feat_w} cell at stride {s}")
        grid = np.zeros(feat_h * feat_w, dtype=bool)
        grid[cells] = True
        levels.append(np.repeat(grid, num_base))
    return np.concatenate(levels) if levels else np.zeros(0, dtype=bool)


def assign_grid(priors: np.ndarray, responsible: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                params: GridAssignerConfig) -> Assignment:
    """mmdetection 3.3.0 ``GridAssigner.assign`` on one image (C.10).

    1. ``O = IoU(gt, priors)`` float32 [G, A]; everything starts IGNORE. No GT: all NEGATIVE with
       max_iou 0; no prior: empty.
    2. ``0 <= max_j O <= neg_iou_thr`` (note ``<=``; a pair ``(lo, hi)`` means ``lo < . <= hi``)
       -> NEGATIVE, over *all* priors.
    3. ``O[:, ~responsible] = -1``; per prior max and first argmax again; a responsible prior with
       ``max > pos_iou_thr`` (strict) -> argmax + 1, which may be another GT than the one whose
       cell it is (mmdet #3735).
    4. For GT i = 0..G-1 in order with ``gt_max[i] > min_pos_iou`` (strict): every responsible
       prior with ``O[i, j] == gt_max[i]`` (``gt_max_assign_all``; else only its first argmax, if
       responsible) -> i + 1; a later GT overwrites.

    A non-responsible prior with IoU above ``neg_iou_thr`` stays IGNORE.

    Returns:
        `Assignment`: int32 assigned_gt / labels and float32 max_iou [A], the assigner's
        ``max_overlaps`` *after* step 3's mask (-1 on every non-responsible prior).
    """
    num_gts, num = len(gt_boxes), len(priors)
    if num_gts == 0 or num == 0:
        fill = NEGATIVE if num_gts == 0 else IGNORE
        return Assignment(np.full(num, fill, np.int32), np.zeros(num, F32), np.full(num, NO_LABEL, np.int32))
    overlaps = iou(gt_boxes, priors)
    assigned = np.full(num, IGNORE, dtype=np.int32)
    # 2. negatives over all priors
    max_iou = overlaps.max(axis=0)
    if isinstance(params.neg_iou_thr, tuple):
        neg = (max_iou > F32(params.neg_iou_thr[0])) & (max_iou <= F32(params.neg_iou_thr[1]))
    else:
        neg = (max_iou >= 0) & (max_iou <= F32(params.neg_iou_thr))
    assigned[neg] = NEGATIVE
    # 3. positives among the responsible priors
    overlaps[:, ~responsible] = F32(-1)
    max_iou, argmax = overlaps.max(axis=0), overlaps.argmax(axis=0)
    pos = (max_iou > F32(params.pos_iou_thr)) & responsible
    assigned[pos] = argmax[pos] + FIRST_POSITIVE
    # 4. each GT's best responsible priors, later GTs overwrite
    gt_max, gt_argmax = overlaps.max(axis=1), overlaps.argmax(axis=1)
    for i in np.flatnonzero(gt_max > F32(params.min_pos_iou)):
        if params.gt_max_assign_all:
            assigned[(overlaps[i] == gt_max[i]) & responsible] = i + FIRST_POSITIVE
        elif responsible[gt_argmax[i]]:
            assigned[gt_argmax[i]] = i + FIRST_POSITIVE
    labels = np.full(num, NO_LABEL, dtype=np.int32)
    hit = assigned >= FIRST_POSITIVE
    labels[hit] = np.asarray(gt_labels)[assigned[hit] - FIRST_POSITIVE]
    return Assignment(assigned, max_iou.astype(F32), labels)


def encode_yolo(priors: np.ndarray, gt_boxes: np.ndarray, strides: np.ndarray, eps: float) -> np.ndarray:
    """``YOLOBBoxCoder.encode``: float32 [P, 4] ``(tx, ty, tw, th)`` for priors / matched GTs [P, 4].

    ``tx = clamp((gx - ax) / stride + 0.5, eps, 1 - eps)`` (the GT centre inside the anchor's cell,
    in [0, 1]), ``tw = log(max(gw / aw, eps))``; centres ``(x1 + x2) * 0.5``, float32 throughout.
    The log is taken in float64 and rounded (torch's float32 log differs from it by <= 1 ulp).
    `strides` is float32 or int [P], the level stride of each prior.
    """
    if len(priors) == 0:
        return np.zeros((0, 4), F32)
    half, s = F32(0.5), np.asarray(strides).astype(F32)
    gx, gy = (gt_boxes[:, 0] + gt_boxes[:, 2]) * half, (gt_boxes[:, 1] + gt_boxes[:, 3]) * half
    ax, ay = (priors[:, 0] + priors[:, 2]) * half, (priors[:, 1] + priors[:, 3]) * half
    lo, hi = F32(eps), F32(1 - eps)
    ratio_w = np.maximum((gt_boxes[:, 2] - gt_boxes[:, 0]) / (priors[:, 2] - priors[:, 0]), lo)
    ratio_h = np.maximum((gt_boxes[:, 3] - gt_boxes[:, 1]) / (priors[:, 3] - priors[:, 1]), lo)
    tx = np.clip((gx - ax) / s + half, lo, hi)
    ty = np.clip((gy - ay) / s + half, lo, hi)
    tw, th = np.log(ratio_w.astype(np.float64)).astype(F32), np.log(ratio_h.astype(np.float64)).astype(F32)
    return np.stack([tx, ty, tw, th], axis=1)


def label(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray | None, width: int, height: int,
          cfg: Yolov3Config, rng: np.random.Generator | None = None, proposals: np.ndarray | None = None,
          with_max_iou: bool = True) -> Arrays:
    """Label one image as ``YOLOV3Head.loss_by_feat`` does at training time.

    Args:
        gt_boxes: float32 [G, 4] x1 y1 x2 y2, original pixels; gt_labels: int [G] class ids. With
            ``input.drop_outside_gt`` boxes not overlapping the image are left out
            (`overlaps_image`); output ``gt_boxes`` and the 1-based indices refer to the kept ones.
        ignore_boxes: accepted for the common signature and unused (the head drops them).
        width, height: original image size.
        cfg: a validated `Yolov3Config`.
        rng: unused: the PseudoSampler draws nothing.

    Returns:
        ``assigned_gt`` int32 [A] (NEGATIVE 0, IGNORE -1, k + 1), ``labels`` int32 [A],
        ``max_iou`` float32 [A] (see `assign_grid`), ``responsible`` bool [A], ``pos_inds`` int32
        [P] ascending, ``pos_targets`` float32 [P, 4] (tx, ty, tw, th), ``priors_per_level`` int32
        [L], ``img_shape`` / ``pad_shape`` int32 [2] (h, w), ``scale_factor`` float64 [2] (w, h),
        ``gt_boxes`` float32 [G, 4] / ``gt_labels`` int32 [G] in network-input pixels.

    Raises:
        ValueError: malformed box arrays, or a GT centre past the padded grid (see
            `responsible_flags`).
    """
    del rng, proposals
    g = geometry(cfg, width, height)
    gts, labels, _ = network_gts(gt_boxes, gt_labels, None, width, height, g, cfg.input)
    gen = cfg.prior_generator
    anchors, counts = memo(priors, cfg, g)
    responsible = responsible_flags(gts, g.featmap_sizes, gen.strides, len(gen.base_sizes[0]))
    a = assign_grid(anchors, responsible, gts, labels, cfg.assigner)
    pos = np.flatnonzero(a.assigned_gt >= FIRST_POSITIVE)
    strides = np.repeat(np.asarray(gen.strides, np.int64), counts)
    targets = encode_yolo(anchors[pos], gts[a.assigned_gt[pos] - FIRST_POSITIVE], strides[pos], cfg.coder.eps)
    out = {"assigned_gt": a.assigned_gt, "labels": a.labels, "max_iou": a.max_iou, "responsible": responsible,
           "pos_inds": pos.astype(np.int32), "pos_targets": targets, "priors_per_level": counts}
    out.update(geo.geometry_arrays(g, gts, labels))
    return out


def fit_space(cfg: Yolov3Config, fit: FitBoxes, rng: np.random.Generator) -> FitSpace:
    """``fit-anchors``: the log (w, h) of every base size (their count per level kept), scored by
    the best IoU of the responsible anchors (the GT centre's cell on every level, `grid_best_iou`)
    against ``assigner.pos_iou_thr`` and ``min_pos_iou``; the extra start is YOLOv3's own recipe,
    1 - IoU k-means over the box shapes (YOLO9000), smallest shapes on the finest level."""
    pos_thr = cfg.assigner.pos_iou_thr
    gen = cfg.prior_generator
    levels, per_level = len(gen.strides), len(gen.base_sizes[0])

    def sizes_of(theta: np.ndarray) -> list[list[list[float]]]:
        wh = np.round(np.exp(theta), 1).reshape(levels, per_level, 2)
        return wh.tolist()

    def scores(theta: np.ndarray) -> tuple[np.ndarray, int]:
        bases = [yolo_base_anchors_single_level([tuple(p) for p in level], s)
                 for level, s in zip(sizes_of(theta), gen.strides)]
        best, counts = grid_best_iou(fit, gen.strides, bases,
                                    count_over=pos_thr, radius=0)
        return best, int(counts.sum())

    def overrides(theta: np.ndarray) -> dict:
        return {"prior_generator": {"base_sizes": sizes_of(theta)}}

    centres = kmeans_iou(fit.wh, levels * per_level, rng).reshape(levels, per_level, 2)
    by_stride = np.argsort(np.argsort(gen.strides))       # the coarsest level gets the largest shapes
    kmeans = np.log(np.maximum(centres[by_stride], 1e-3)).reshape(-1)
    a = cfg.assigner
    return FitSpace(np.log(np.asarray(gen.base_sizes, np.float64)).reshape(-1), (kmeans,), scores, overrides,
                    Criterion(a.pos_iou_thr, a.min_pos_iou))
