"""Pictures of one image's anchor / point labels: one panel per pyramid level, tiled in a grid.

Inputs are the npz contract of `samplegen.anchors.methods.label_image` (``assigned_gt``,
``priors_per_level``, ``gt_boxes``, optional ``sampled`` and ``centerness``, ``pos_inds``), the
priors of `priors_for` in the same order (float32 [A, 4] boxes, or [A, 2] FCOS points) and a
canvas: the network input (`samplegen.pipelines.anchor_shards.network_input`) or a grey image of
``pad_shape``. Everything is in network-input pixels, multiplied by ``scale`` for drawing.

A box-prior level panel, drawn in this order (later on top):

1. sampled negatives (``sampled & assigned_gt == NEGATIVE``, only where a sampler ran): faint
   dots at their centres (`draw.NEGATIVE_COLOUR` blended at `NEGATIVE_ALPHA`);
2. ignored priors (``assigned_gt == IGNORE``): thin `draw.IGNORED_GREY` outlines;
3. the GT boxes: thick outlines (`GT_THICKNESS`) in their colours (`draw.gt_colour`);
4. positive priors (``assigned_gt == k + 1``): GT k's colour blended at `POSITIVE_TINT` over
   the prior's area (the positive region shows even where a prior nearly coincides with its GT),
   then a thin outline in GT k's colour, on top of everything.

FCOS level panels show the positive points as discs in their GT's colour (the positive region)
over the GT boxes; one more panel is the centerness heat map: each positive point's centerness
painted (`cv2.COLORMAP_VIRIDIS`) as the stride x stride cell centred on the point, every other
pixel black (0), with a 0-1 colour scale under it. Heat map cells are painted from the coarsest
level to the finest.

CenterNet (points, ``heatmap_peaks``): the level panel shows each GT's peak cell as a disc and its
gaussian radius as a circle, in the GT's colour; one more panel is the target heat map (the max
over classes of `samplegen.anchors.recipes.centernet.centernet_heatmap`, each output cell a
stride x stride block, `dense_heatmap`) with its colour scale. `legend_kinds` names the marks a
picture holds, for the legend strip of `samplegen.render.legend`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import cv2
import numpy as np

from samplegen.anchors.labels import FIRST_POSITIVE, IGNORE, NEGATIVE
from samplegen.anchors.recipes.centernet import centernet_heatmap
from samplegen.render import draw, legend

GT_THICKNESS = 3
NEGATIVE_ALPHA = 0.6
POSITIVE_TINT = 0.2
NEGATIVE_RADIUS = 2
TITLE_HEIGHT = 22
PANEL_GAP = 6
STYLE = legend.LegendStyle(GT_THICKNESS, POSITIVE_TINT, NEGATIVE_ALPHA, NEGATIVE_RADIUS)


@dataclass(frozen=True, eq=False)
class Panel:
    """One titled picture: ``image`` uint8 [H, W, 3] BGR (without its title bar)."""

    title: str
    image: np.ndarray


def level_slices(priors_per_level: np.ndarray) -> list[slice]:
    """Prior index ranges of each level: the prior array is the levels one after the other."""
    ends = np.cumsum(np.asarray(priors_per_level, np.int64))
    return [slice(int(e - n), int(e)) for e, n in zip(ends, np.asarray(priors_per_level, np.int64))]


def gt_colours(assigned_gt: np.ndarray) -> list[draw.Colour]:
    """The colour of each positive entry of `assigned_gt` int [A'] (entries >= FIRST_POSITIVE)."""
    return [draw.gt_colour(k - FIRST_POSITIVE) for k in assigned_gt.tolist()]


def scaled_canvas(canvas: np.ndarray, scale: float) -> np.ndarray:
    """`canvas` resized by `scale` (size ``round(w * scale) x round(h * scale)``), area-averaged."""
    if scale == 1.0:
        return canvas.copy()
    size = (max(1, round(canvas.shape[1] * scale)), max(1, round(canvas.shape[0] * scale)))
    return cv2.resize(canvas, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def draw_gts(canvas: np.ndarray, gt_boxes: np.ndarray, scale: float) -> np.ndarray:
    """GT boxes float [G, 4] (network pixels) as thick outlines in their palette colours."""
    colours = [draw.gt_colour(k) for k in range(len(gt_boxes))]
    return draw.draw_boxes(canvas, np.asarray(gt_boxes, np.float64) * scale, colours, GT_THICKNESS)


def box_level_panel(canvas: np.ndarray, arrays: Mapping[str, np.ndarray], priors: np.ndarray,
                    level: slice, scale: float) -> np.ndarray:
    """uint8 panel of one level of box priors on `canvas` (already scaled), steps 1-4 above.

    Args:
        canvas: uint8 [h, w, 3], the network input resized by `scale`.
        arrays: the `label_image` arrays of the image.
        priors: float32 [A, 4] all priors (network pixels); `level` selects this level's rows.
        level: the level's slice of the prior index.
        scale: drawing pixels per network-input pixel.
    """
    assigned = np.asarray(arrays["assigned_gt"])[level]
    boxes = np.asarray(priors, np.float64)[level] * scale
    out = canvas
    if "sampled" in arrays:
        negatives = np.asarray(arrays["sampled"])[level] & (assigned == NEGATIVE)
        centres = (boxes[negatives, :2] + boxes[negatives, 2:]) / 2
        dots = draw.draw_points(out, centres, draw.NEGATIVE_COLOUR, NEGATIVE_RADIUS)
        out = draw.blend(out, dots, np.any(dots != out, axis=2), NEGATIVE_ALPHA)
    out = draw.draw_boxes(out, boxes[assigned == IGNORE], draw.IGNORED_GREY, 1)
    positive = assigned >= FIRST_POSITIVE
    colours = gt_colours(assigned[positive])
    out = draw_gts(out, arrays["gt_boxes"], scale)
    out = tint_boxes(out, boxes[positive], colours, POSITIVE_TINT)
    return draw.draw_boxes(out, boxes[positive], colours, 1)


def tint_boxes(canvas: np.ndarray, boxes: np.ndarray, colours: list[draw.Colour], alpha: float) -> np.ndarray:
    """`canvas` with the pixels of each box float [N, 4] blended with its colour at `alpha`
    (boxes in order: a later box tints over an earlier one)."""
    out = canvas
    h, w = canvas.shape[:2]
    for (x1, y1, x2, y2), colour in zip(draw.box_pixels(boxes), colours):
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w - 1), min(y2, h - 1)
        if x2 < x1 or y2 < y1:
            continue
        mask = np.zeros((h, w), bool)
        mask[y1:y2 + 1, x1:x2 + 1] = True
        out = draw.blend(out, draw.blank(h, w, colour), mask, alpha)
    return out


def point_level_panel(canvas: np.ndarray, arrays: Mapping[str, np.ndarray], points: np.ndarray,
                      level: slice, stride: int, scale: float) -> np.ndarray:
    """uint8 panel of one FCOS level: GT boxes, then positive points as discs in their GT's colour.

    Args:
        points: float32 [A, 2] all points (network pixels); `level` selects this level's rows.
        stride: the level's stride (disc radius ``max(2, round(stride * scale / 4))``).
    """
    assigned = np.asarray(arrays["assigned_gt"])[level]
    positive = assigned >= FIRST_POSITIVE
    out = draw_gts(canvas, arrays["gt_boxes"], scale)
    radius = max(2, int(round(stride * scale / 4)))
    pts = np.asarray(points, np.float64)[level][positive] * scale
    return draw.draw_points(out, pts, gt_colours(assigned[positive]), radius)


def centerness_cells(points: np.ndarray, strides: np.ndarray, scale: float) -> np.ndarray:
    """int64 [P, 4] inclusive pixel rectangles (`draw.box_pixels`) of the stride x stride cells
    centred on `points` float [P, 2] with per-point `strides` [P], in drawing pixels."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    half = np.asarray(strides, np.float64).reshape(-1, 1) / 2
    return draw.box_pixels(np.concatenate([pts - half, pts + half], axis=1) * scale).astype(np.int64)


def centerness_map(shape: tuple[int, int], arrays: Mapping[str, np.ndarray], points: np.ndarray,
                   strides: Sequence[int], scale: float) -> np.ndarray:
    """uint8 [h, w, 3] heat map: positive points' centerness in VIRIDIS cells, black elsewhere.

    Args:
        shape: (h, w) of the (scaled) panel.
        arrays: the FCOS `label_image` arrays (``pos_inds``, ``centerness``, ``priors_per_level``).
        points: float32 [A, 2] all points (network pixels).
        strides: one stride per level.
    """
    out = np.zeros((*shape, 3), np.uint8)
    pos = np.asarray(arrays["pos_inds"], np.int64)
    values = np.asarray(arrays["centerness"], np.float64)
    per_point = np.repeat(np.asarray(strides, np.int64), np.asarray(arrays["priors_per_level"], np.int64))
    colours = cv2.applyColorMap(np.clip(np.rint(values * 255), 0, 255).astype(np.uint8).reshape(-1, 1),
                                cv2.COLORMAP_VIRIDIS).reshape(-1, 3)
    order = np.argsort(-per_point[pos], kind="stable")  # coarsest first, finest on top
    cells = centerness_cells(np.asarray(points)[pos], per_point[pos], scale)
    for i in order:
        x1, y1, x2, y2 = np.clip(cells[i], 0, [shape[1] - 1, shape[0] - 1] * 2)
        out[y1:y2 + 1, x1:x2 + 1] = colours[i]
    return out


def level_counts(assigned: np.ndarray, sampled: np.ndarray | None) -> str:
    """Short title counts of one level: ``3 pos 40 ign 120 sampled neg`` (the negatives a sampler
    picked, when one ran; every other negative is not drawn)."""
    text = f"{int((assigned >= FIRST_POSITIVE).sum())} pos {int((assigned == IGNORE).sum())} ign"
    if sampled is not None:
        text += f" {int((sampled & (assigned == NEGATIVE)).sum())} sampled neg"
    return text


def legend_kinds(arrays: Mapping[str, np.ndarray], priors: np.ndarray) -> list[str]:
    """The marks the panels of these arrays draw, in legend order (`samplegen.render.legend`)."""
    if np.asarray(priors).shape[1] == 2:
        kinds = [legend.GT, legend.POSITIVE_POINT]
        return kinds + [legend.PEAK] if "heatmap_peaks" in arrays else kinds
    kinds = [legend.GT, legend.POSITIVE, legend.IGNORED]
    return kinds + [legend.SAMPLED_NEGATIVE] if "sampled" in arrays else kinds


def dense_heatmap(arrays: Mapping[str, np.ndarray], stride: int) -> np.ndarray:
    """float32 [H, W] in network-input pixels (``pad_shape``): the CenterNet target heat map, max
    over the classes present, each output cell repeated over its stride x stride pixels."""
    h, w = (int(v) for v in arrays["pad_shape"])
    feat = (-(-h // stride), -(-w // stride))
    peaks = np.asarray(arrays["heatmap_peaks"]).reshape(-1, 3)
    classes = np.unique(peaks[:, 0])
    maps = centernet_heatmap(peaks, arrays["heatmap_radii"], 0, feat, classes)
    cells = maps.max(axis=0) if len(classes) else np.zeros(feat, np.float32)
    return np.repeat(np.repeat(cells, stride, axis=0), stride, axis=1)[:h, :w]


def heat_panel(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """uint8 [h + SCALE_HEIGHT, w, 3]: float `heat` in [0, 1] resized (nearest) to `shape` (h, w)
    in VIRIDIS, black where 0, over its colour scale."""
    h, w = shape
    resized = cv2.resize(np.asarray(heat, np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
    image = legend.viridis(resized)
    image[resized <= 0] = 0
    return np.concatenate([image, legend.colour_scale(w)], axis=0)


def peak_circles(canvas: np.ndarray, arrays: Mapping[str, np.ndarray], points: np.ndarray, stride: int,
                 scale: float) -> np.ndarray:
    """`canvas` with each GT's gaussian radius (``heatmap_radii`` cells) as a circle around its
    peak cell's point (`points` float [A, 2], row-major cells), in the GT's colour."""
    out = canvas.copy()
    h, w = (int(v) for v in arrays["pad_shape"])
    feat_w = -(-w // stride)
    peaks = np.asarray(arrays["heatmap_peaks"]).reshape(-1, 3)
    for k, ((_, y, x), radius) in enumerate(zip(peaks.tolist(), np.asarray(arrays["heatmap_radii"]).tolist())):
        cx, cy = np.floor(np.asarray(points, np.float64)[y * feat_w + x] * scale).astype(int)
        colour = tuple(int(c) for c in draw.gt_colour(k))
        cv2.circle(out, (int(cx), int(cy)), max(1, int(round(radius * stride * scale))), colour, 1, cv2.LINE_8)
    return out


def anchor_panels(canvas: np.ndarray, arrays: Mapping[str, np.ndarray], priors: np.ndarray,
                  strides: Sequence[int], scale: float = 1.0) -> list[Panel]:
    """The panels of one image: one per level (in level order), plus the FCOS centerness map.

    Args:
        canvas: uint8 [H, W, 3] BGR network input (``pad_shape``) or a grey canvas of that size.
        arrays: `label_image` arrays (npz contract).
        priors: float32 [A, 4] boxes, or [A, 2] points (FCOS), in `arrays`' prior order.
        strides: one stride per level (titles, FCOS disc and cell sizes).
        scale: drawing pixels per network-input pixel (panels are ``canvas`` resized by it).

    Raises:
        ValueError: `priors` does not have one row per ``assigned_gt`` entry, or the level counts
            do not match `strides`.
    """
    assigned = np.asarray(arrays["assigned_gt"])
    counts = np.asarray(arrays["priors_per_level"])
    if len(priors) != len(assigned) or int(counts.sum()) != len(assigned) or len(counts) != len(strides):
        raise ValueError(f"{len(priors)} priors, {len(assigned)} labels, levels {counts.tolist()}, "
                         f"strides {list(strides)}: they do not describe the same priors")
    base = scaled_canvas(canvas, scale)
    points = np.asarray(priors).shape[1] == 2
    sampled = np.asarray(arrays["sampled"]) if "sampled" in arrays else None
    panels = []
    for level, stride in zip(level_slices(counts), strides):
        if points:
            image = point_level_panel(base, arrays, priors, level, stride, scale)
            if "heatmap_peaks" in arrays:
                image = peak_circles(image, arrays, priors, stride, scale)
        else:
            image = box_level_panel(base, arrays, priors, level, scale)
        title = f"stride {stride}: " + level_counts(assigned[level], None if sampled is None
                                                                 else sampled[level])
        panels.append(Panel(title, image))
    if "centerness" in arrays:
        heat = centerness_map(base.shape[:2], arrays, priors, strides, scale)
        scale_bar = legend.colour_scale(heat.shape[1])
        panels.append(Panel(f"centerness, {len(arrays['pos_inds'])} positive points",
                            np.concatenate([heat, scale_bar], axis=0)))
    if "heatmap" in arrays:
        panels.append(Panel(f"target heat map, {len(arrays['heatmap_peaks'])} peaks",
                            heat_panel(arrays["heatmap"], base.shape[:2])))
    return panels


def gt_region(gt_boxes: np.ndarray, shape: tuple[int, int], margin: float) -> tuple[int, int, int, int]:
    """Integer region ``x1 y1 x2 y2`` (half-open) around the union of `gt_boxes` float [G, 4]:
    the union grown by ``margin`` times its longer side on every side, clipped to `shape` (h, w).
    No GT: the whole image."""
    h, w = shape
    boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return 0, 0, w, h
    x1, y1 = boxes[:, 0].min(), boxes[:, 1].min()
    x2, y2 = boxes[:, 2].max(), boxes[:, 3].max()
    grow = margin * max(x2 - x1, y2 - y1, 1.0)
    return (max(0, int(np.floor(x1 - grow))), max(0, int(np.floor(y1 - grow))),
            min(w, int(np.ceil(x2 + grow))), min(h, int(np.ceil(y2 + grow))))


def crop_region(canvas: np.ndarray, arrays: Mapping[str, np.ndarray], priors: np.ndarray,
                region: tuple[int, int, int, int]) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(canvas, arrays, priors) seen through `region` ``x1 y1 x2 y2``: the canvas (and a dense
    ``heatmap`` in network pixels, when present) cropped, and ``gt_boxes`` and the priors (boxes
    [A, 4] or points [A, 2]) moved by ``-(x1, y1)``."""
    x1, y1, x2, y2 = region
    shift = np.array([x1, y1], np.float32)
    moved = dict(arrays)
    moved["gt_boxes"] = np.asarray(arrays["gt_boxes"], np.float32) - np.tile(shift, 2)
    if "heatmap" in arrays:
        moved["heatmap"] = np.asarray(arrays["heatmap"])[y1:y2, x1:x2]
    priors = np.asarray(priors, np.float32)
    moved_priors = priors - (np.tile(shift, 2) if priors.shape[1] == 4 else shift)
    return canvas[y1:y2, x1:x2].copy(), moved, moved_priors


def tile_panels(panels: Sequence[Panel], columns: int) -> np.ndarray:
    """uint8 BGR: each panel under its title bar, in a `draw.grid` of `columns` columns."""
    titled = []
    for panel in panels:
        bar = draw.title_bar(panel.image.shape[1], TITLE_HEIGHT, panel.title, 0.45)
        titled.append(np.concatenate([bar, panel.image], axis=0))
    return draw.grid(titled, columns, PANEL_GAP)
