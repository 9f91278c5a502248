"""Keys to the anchor pictures: the legend strip under the panels and colour scales for heat maps.

`legend_strip` draws one swatch per kind of mark exactly as the panels draw it (same colours,
thicknesses, tint and dot radius, from `samplegen.render.anchor_panels`' constants passed in as
`LegendStyle`), each followed by its name; `colour_scale` is a VIRIDIS gradient from 0 to 1 with
tick labels, for the FCOS centerness and CenterNet heat map panels. Pure functions returning
uint8 BGR images.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from samplegen.render import draw

GT = "GT box"
POSITIVE = "positive prior (its GT's colour)"
POSITIVE_POINT = "positive point (its GT's colour)"
IGNORED = "ignored prior"
SAMPLED_NEGATIVE = "sampled negative (prior centre)"
PEAK = "heat map peak, gaussian radius"
KINDS = (GT, POSITIVE, POSITIVE_POINT, IGNORED, SAMPLED_NEGATIVE, PEAK)

STRIP_HEIGHT = 26
SWATCH = 16
SCALE_HEIGHT = 30  # colour bar 12 px + tick labels
TEXT_SCALE = 0.42


@dataclass(frozen=True)
class LegendStyle:
    """How the panels draw each mark (so the swatches match them)."""

    gt_thickness: int
    positive_tint: float
    negative_alpha: float
    negative_radius: int


def _swatch(kind: str, style: LegendStyle) -> np.ndarray:
    """uint8 [SWATCH, SWATCH, 3]: one mark of `kind` on the panel background."""
    tile = draw.blank(SWATCH, SWATCH)
    box = np.array([[1, 1, SWATCH - 1, SWATCH - 1]], np.float64)
    colour = draw.gt_colour(0)
    if kind == GT:
        return draw.draw_boxes(tile, box, colour, style.gt_thickness)
    if kind == POSITIVE:
        tinted = draw.blend(tile, draw.blank(SWATCH, SWATCH, colour), np.ones((SWATCH, SWATCH), bool),
                            style.positive_tint)
        return draw.draw_boxes(tinted, box, colour, 1)
    if kind == POSITIVE_POINT:
        return draw.draw_points(tile, np.array([[SWATCH / 2, SWATCH / 2]]), colour, SWATCH // 4)
    if kind == IGNORED:
        return draw.draw_boxes(tile, box, draw.IGNORED_GREY, 1)
    if kind == SAMPLED_NEGATIVE:
        dots = draw.draw_points(tile, np.array([[SWATCH / 2, SWATCH / 2]]), draw.NEGATIVE_COLOUR, style.negative_radius)
        return draw.blend(tile, dots, np.any(dots != tile, axis=2), style.negative_alpha)
    if kind == PEAK:
        out = draw.draw_points(tile, np.array([[SWATCH / 2, SWATCH / 2]]), colour, 2)
        cv2.circle(out, (SWATCH // 2, SWATCH // 2), SWATCH // 2 - 1, tuple(int(c) for c in colour), 1, cv2.LINE_8)
        return out
    raise ValueError(f"unknown legend kind {kind!r} (known: {', '.join(KINDS)})")


def legend_strip(width: int, kinds: Sequence[str], style: LegendStyle) -> np.ndarray:
    """uint8 [rows * STRIP_HEIGHT, width, 3]: a swatch and its name per kind, left to right,
    wrapping onto more rows when `width` is too narrow."""
    items = []
    for kind in kinds:
        (text_w, _), _ = cv2.getTextSize(kind, draw.FONT, TEXT_SCALE, 1)
        items.append((kind, SWATCH + 6 + text_w + 18))
    rows: list[list[tuple[str, int]]] = [[]]
    used = 6
    for kind, item_w in items:
        if rows[-1] and used + item_w > width:
            rows.append([])
            used = 6
        rows[-1].append((kind, item_w))
        used += item_w
    out = draw.blank(STRIP_HEIGHT * len(rows), width)
    for r, row in enumerate(rows):
        x, y = 6, r * STRIP_HEIGHT + (STRIP_HEIGHT - SWATCH) // 2
        for kind, item_w in row:
            tile = _swatch(kind, style)
            w = min(SWATCH, max(0, width - x))
            out[y:y + SWATCH, x:x + w] = tile[:, :w]
            out = draw.put_text(out, kind, (x + SWATCH + 6, y + SWATCH - 3), TEXT_SCALE)
            x += item_w
    return out


def viridis(values: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] BGR VIRIDIS colours of `values` in [0, 1] (clipped), 256 levels."""
    levels = np.clip(np.rint(np.asarray(values, np.float64) * 255), 0, 255).astype(np.uint8)
    return cv2.applyColorMap(levels.reshape(-1, 1), cv2.COLORMAP_VIRIDIS).reshape(*levels.shape, 3)


def colour_scale(width: int, ticks: Sequence[float] = (0.0, 0.5, 1.0), label: str = "") -> np.ndarray:
    """uint8 [SCALE_HEIGHT, width, 3]: a 0 -> 1 VIRIDIS bar (left to right, 12 px high, 6 px
    margins) with the `ticks` values written under it, and `label` after the last tick."""
    out = draw.blank(SCALE_HEIGHT, width)
    margin = 6
    span = max(width - 2 * margin, 2)
    out[2:14, margin:margin + span] = viridis(np.linspace(0.0, 1.0, span))[None, :, :]
    for tick in ticks:
        x = margin + int(round(tick * (span - 1)))
        out[14:17, x] = draw.TEXT_COLOUR
        text = f"{tick:g}"
        (text_w, _), _ = cv2.getTextSize(text, draw.FONT, TEXT_SCALE, 1)
        out = draw.put_text(out, text, (min(max(x - text_w // 2, 0), width - text_w), SCALE_HEIGHT - 2), TEXT_SCALE)
    if label:
        out = draw.put_text(out, label, (margin + span // 4, SCALE_HEIGHT - 2), TEXT_SCALE)
    return out
