"""Bar charts of `samplegen stats` figures, drawn with OpenCV (no plotting dependency).

Each chart is a panel: title, one bar per value scaled to the largest value, the value written
above each bar, labels below. An overlay (the GT boxes without a positive prior) is drawn over
its bars in a second colour and its numbers are written in that colour under the labels. Panels
are stacked vertically into one BGR image.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

PANEL_WIDTH = 900
PANEL_HEIGHT = 240
PLOT_TOP, PLOT_BOTTOM = 40, 190  # bar area rows inside a panel: bars grow up from PLOT_BOTTOM
MARGIN = 30
BAR_COLOUR = (180, 110, 40)
SECOND_COLOUR = (40, 40, 200)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def bar_geometry(count: int) -> list[tuple[int, int]]:
    """Left and right x of each of `count` bars in a panel."""
    slot = (PANEL_WIDTH - 2 * MARGIN) / max(count, 1)
    return [(int(MARGIN + i * slot + slot * 0.15), int(MARGIN + (i + 1) * slot - slot * 0.15)) for i in range(count)]


def bar_top(value: float, largest: float) -> int:
    """Row of the top of a bar of `value` when the largest bar reaches PLOT_TOP."""
    if largest <= 0 or value <= 0:
        return PLOT_BOTTOM
    return int(round(PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * value / largest))


def bar_panel(title: str, labels: Sequence[str], values: Sequence[float],
              overlay: Sequence[float] | None = None, overlay_name: str = "") -> np.ndarray:
    """One chart; `overlay` values (<= values) are drawn over their bars in a second colour and
    written under each label (``3 no pos``: the count, then `overlay_name`) where the bar has any."""
    panel = np.full((PANEL_HEIGHT, PANEL_WIDTH, 3), 255, np.uint8)
    cv2.putText(panel, title, (MARGIN, 24), FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.line(panel, (MARGIN, PLOT_BOTTOM), (PANEL_WIDTH - MARGIN, PLOT_BOTTOM), (0, 0, 0), 1)
    largest = max(values, default=0)
    for i, ((x1, x2), label, value) in enumerate(zip(bar_geometry(len(values)), labels, values)):
        top = bar_top(value, largest)
        if top < PLOT_BOTTOM:
            cv2.rectangle(panel, (x1, top), (x2, PLOT_BOTTOM - 1), BAR_COLOUR, -1)
        if overlay is not None and overlay[i] > 0:
            cv2.rectangle(panel, (x1, bar_top(overlay[i], largest)), (x2, PLOT_BOTTOM - 1), SECOND_COLOUR, -1)
        scale = 0.35 if len(values) > 12 else 0.45
        cv2.putText(panel, f"{value:g}", (x1, max(top - 4, PLOT_TOP - 4)), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(panel, label, (x1, PLOT_BOTTOM + 18), FONT, scale, (60, 60, 60), 1, cv2.LINE_AA)
        if overlay is not None and value > 0:
            text = f"{overlay[i]:g} {overlay_name}".strip()
            cv2.putText(panel, text, (x1, PLOT_BOTTOM + 36), FONT, scale, SECOND_COLOUR, 1, cv2.LINE_AA)
    return panel


def _bin_labels(edges: Sequence[float]) -> list[str]:
    return [f"{lo:.2f}"[1:] if lo < 1 else "1" for lo in edges[:-1]]


def draw_stats(stats: Mapping) -> np.ndarray:
    """All panels of an mtcnn or anchors stats object, stacked (uint8 BGR)."""
    panels = []
    bins = _bin_labels(stats["iou_bins"])
    if stats["command"] == "mtcnn":
        classes = stats["per_class"]
        panels.append(bar_panel("samples per class", list(classes), list(classes.values())))
        for name, counts in stats["iou_histogram"].items():
            panels.append(bar_panel(f"IoU histogram: {name}", bins, counts))
    else:
        levels = stats["per_level"]
        panels.append(bar_panel("positive priors per level", list(levels), [v["pos"] for v in levels.values()]))
        if stats.get("pos_iou_histogram"):
            panels.append(bar_panel("IoU of positive priors", bins, stats["pos_iou_histogram"]))
        buckets = stats["gt_without_positive_by_size"]
        panels.append(bar_panel("GT boxes by size, sqrt(w h) in network-input px (red: no positive prior)",
                                [f"{name} px" for name in buckets],
                                [v["boxes"] for v in buckets.values()],
                                [v["without_positive"] for v in buckets.values()], "no pos"))
    return np.concatenate(panels, axis=0)
