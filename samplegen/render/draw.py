"""Drawing primitives shared by the pictures: palette, pixel rectangles, text, enlarging, grids.

Everything here is a pure function over uint8 BGR images ``[H, W, 3]``: inputs are never
modified (functions that draw take a canvas and return a new array), nothing is read or written.

Pixel convention (as `samplegen.record`): a continuous box ``[x1, y1, x2, y2]`` covers
``x1 <= x < x2``; `box_pixels` turns it into the inclusive integer rectangle OpenCV draws, the
one place that rounding lives, so tests can find the drawn outline.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

Colour = tuple[int, int, int]

# Tableau-10 in BGR: distinct, readable on photos and on dark grey. GT k gets PALETTE[k % 10].
PALETTE: tuple[Colour, ...] = (
    (180, 119, 31), (14, 127, 255), (44, 160, 44), (40, 39, 214), (189, 103, 148),
    (75, 86, 140), (194, 119, 227), (34, 189, 188), (207, 190, 23), (127, 127, 127),
)
IGNORED_GREY: Colour = (160, 160, 160)
NEGATIVE_COLOUR: Colour = (255, 255, 0)  # cyan, blended faint
BOX_COLOUR: Colour = (0, 255, 0)
LANDMARK_COLOUR: Colour = (0, 0, 255)
TEXT_COLOUR: Colour = (255, 255, 255)
BACKGROUND: Colour = (40, 40, 40)
CANVAS_GREY: Colour = (114, 114, 114)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def gt_colour(index: int) -> Colour:
    """The colour of ground-truth box `index` (0-based): ``PALETTE[index % len(PALETTE)]``."""
    return PALETTE[int(index) % len(PALETTE)]


def blank(height: int, width: int, colour: Colour = BACKGROUND) -> np.ndarray:
    """uint8 [height, width, 3] filled with `colour`."""
    image = np.empty((int(height), int(width), 3), np.uint8)
    image[:] = colour
    return image


def box_pixels(boxes: np.ndarray) -> np.ndarray:
    """Inclusive pixel rectangles of continuous boxes: int32 [N, 4] ``px1 py1 px2 py2``.

    ``px1 = floor(x1)``, ``px2 = ceil(x2) - 1`` (at least ``px1``): the first and last pixel
    columns the half-open box touches. cv2.rectangle draws its 1-px outline exactly on them.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    lo = np.floor(b[:, :2])
    hi = np.maximum(np.ceil(b[:, 2:]) - 1, lo)
    # Keep far-away coordinates inside int32 (cv2 clips to the canvas anyway).
    return np.clip(np.concatenate([lo, hi], axis=1), -(2 ** 20), 2 ** 20).astype(np.int32)


def draw_boxes(canvas: np.ndarray, boxes: np.ndarray, colours: list[Colour] | Colour,
               thickness: int = 1) -> np.ndarray:
    """A copy of `canvas` with the outlines of `boxes` float [N, 4] (one colour, or a list: one per box).

    Thickness grows inwards from the outline of `box_pixels` (an outline of thickness t covers
    the t outermost pixel rings), so a thick box never spills outside its own pixels.
    """
    out = canvas.copy()
    rects = box_pixels(boxes)
    for i, (x1, y1, x2, y2) in enumerate(rects):
        colour = colours[i] if isinstance(colours, list) else colours
        for ring in range(max(1, thickness)):
            if x2 - ring < x1 + ring or y2 - ring < y1 + ring:
                break
            cv2.rectangle(out, (int(x1 + ring), int(y1 + ring)), (int(x2 - ring), int(y2 - ring)),
                          tuple(int(c) for c in colour), 1, cv2.LINE_8)
    return out


def draw_points(canvas: np.ndarray, points: np.ndarray, colours: list[Colour] | Colour,
                radius: int) -> np.ndarray:
    """A copy of `canvas` with filled discs at `points` float [N, 2] (x y, continuous pixels).

    A point ``(x, y)`` is drawn centred on pixel ``(floor(x), floor(y))``.
    """
    out = canvas.copy()
    centres = np.floor(np.asarray(points, np.float64).reshape(-1, 2)).astype(np.int64)
    for i, (x, y) in enumerate(centres):
        colour = colours[i] if isinstance(colours, list) else colours
        cv2.circle(out, (int(x), int(y)), int(radius), tuple(int(c) for c in colour), -1, cv2.LINE_8)
    return out


def blend(canvas: np.ndarray, overlay: np.ndarray, mask: np.ndarray, alpha: float) -> np.ndarray:
    """`canvas` with ``alpha * overlay + (1 - alpha) * canvas`` where bool `mask` [H, W] is set."""
    out = canvas.copy()
    mixed = alpha * overlay[mask].astype(np.float32) + (1 - alpha) * canvas[mask].astype(np.float32)
    out[mask] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return out


def dim(image: np.ndarray, amount: float) -> np.ndarray:
    """`image` pulled towards `BACKGROUND` by `amount` in [0, 1] (0 = unchanged), so drawings stand out."""
    grey = blank(image.shape[0], image.shape[1])
    return cv2.addWeighted(image, 1.0 - amount, grey, amount, 0.0)


def put_text(canvas: np.ndarray, text: str, origin: tuple[int, int], scale: float,
             colour: Colour = TEXT_COLOUR) -> np.ndarray:
    """A copy of `canvas` with `text` whose baseline starts at `origin` (x, y)."""
    out = canvas.copy()
    cv2.putText(out, text, (int(origin[0]), int(origin[1])), FONT, scale, colour, 1, cv2.LINE_AA)
    return out


def title_bar(width: int, height: int, text: str, scale: float = 0.5) -> np.ndarray:
    """uint8 [height, width, 3]: `text` in white on `BACKGROUND`, left-aligned, vertically centred."""
    bar = blank(height, width)
    (_, text_h), _ = cv2.getTextSize(text, FONT, scale, 1)
    return put_text(bar, text, (4, (height + text_h) // 2), scale)


def enlarge(image: np.ndarray, size: int, nearest: bool = True) -> np.ndarray:
    """`image` [h, w, 3] resized to [size, size, 3] (nearest keeps each source pixel a crisp block)."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    return cv2.resize(image, (int(size), int(size)), interpolation=interpolation)


def grid(images: Sequence[np.ndarray], columns: int, gap: int, colour: Colour = BACKGROUND) -> np.ndarray:
    """Images placed row-major in `columns` columns, cells the size of the largest image, `gap`
    pixels between and around cells; uint8 [rows * (h + gap) + gap, cols * (w + gap) + gap, 3].
    An empty sequence gives a [gap, gap, 3] image."""
    if not images:
        return blank(gap, gap, colour)
    cell_h = max(i.shape[0] for i in images)
    cell_w = max(i.shape[1] for i in images)
    cols = min(columns, len(images))
    rows = -(-len(images) // cols)
    out = blank(rows * (cell_h + gap) + gap, cols * (cell_w + gap) + gap, colour)
    for n, image in enumerate(images):
        y, x = grid_origin(n, cols, cell_h, cell_w, gap)
        out[y:y + image.shape[0], x:x + image.shape[1]] = image
    return out


def grid_origin(n: int, columns: int, cell_h: int, cell_w: int, gap: int) -> tuple[int, int]:
    """(y, x) of the top-left pixel of cell `n` in `grid`."""
    row, col = divmod(n, columns)
    return gap + row * (cell_h + gap), gap + col * (cell_w + gap)
