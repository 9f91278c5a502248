"""The MTCNN contact sheet: one section per class, each tile a crop with its targets drawn.

Input samples are the dicts `samplegen.outputs.read_mtcnn` yields (any layout): ``image`` uint8
[S, S, 3] BGR, ``cls`` (`POS`, `NEG`, `PART`, `LANDMARK`), ``roi`` float32 [4], ``landmark``
float32 [10] and, for packed / wds outputs, ``iou``, ``mirror`` and ``angle``.

What a tile shows (tile side T pixels):

* the crop enlarged to T x T, inside a background margin;
* the regression box, i.e. the face mapped back through ``roi`` (`samplegen.mtcnn.labels`:
  face = crop + roi * side), in crop pixels ``(roi + [0, 0, 1, 1]) * T`` (plus the margin
  offset in the cell); drawn for `POS` and
  `PART` rows, and for `LANDMARK` rows whose ``roi`` is defined (not all zeros: rotated landmark
  samples have none);
* the five landmarks of `LANDMARK` rows at ``landmark.reshape(5, 2) * T``;
* a caption under the crop: the IoU with the matched face, ``flip`` when mirrored, ``rN`` for a
  rotation of N degrees.

Layout (`SheetLayout`): sections stacked in `SHEET_ORDER`, each a title bar then rows of
``columns`` cells; every size is in `SheetLayout` so tests can find each tile.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from samplegen.mtcnn.labels import CLASS_NAMES, LANDMARK, NEG, PART, POS
from samplegen.render import draw

SHEET_ORDER: tuple[int, int, int, int] = (POS, PART, NEG, LANDMARK)
"""Class codes in the order of the sheet's sections: pos, part, neg, landmark."""


@dataclass(frozen=True)
class SheetLayout:
    """Geometry of a contact sheet, in pixels.

    Attributes:
        tile: side of an enlarged crop.
        columns: tiles per row.
        caption: height of the caption strip under each tile.
        gap: space between cells and around the sheet.
        title: height of a section's title bar.
        margin: background band around each crop, where the parts of regression boxes that
            leave the crop (part faces, crops inside a large face) stay visible.
    """

    tile: int
    columns: int
    caption: int = 14
    gap: int = 4
    title: int = 24
    margin: int = 0

    @property
    def cell(self) -> int:
        """Side of a cell: the crop and its margin (the caption strip is below it)."""
        return self.tile + 2 * self.margin

    @property
    def width(self) -> int:
        return self.columns * (self.cell + self.gap) + self.gap

    def rows(self, count: int) -> int:
        return -(-count // self.columns)

    def section_height(self, count: int) -> int:
        """Height of a section of `count` tiles (title bar, gap, then its rows)."""
        return self.title + self.gap + self.rows(count) * (self.cell + self.caption + self.gap)


@dataclass(frozen=True, eq=False)
class SheetSection:
    """One class of the sheet: its name, its total count in the output and the samples shown."""

    name: str
    total: int
    samples: tuple[dict, ...]


def sheet_shape(layout: SheetLayout, counts: Sequence[int]) -> tuple[int, int]:
    """(height, width) of a sheet whose sections hold `counts` tiles each."""
    return sum(layout.section_height(n) for n in counts), layout.width


def tile_origins(layout: SheetLayout, counts: Sequence[int]) -> list[np.ndarray]:
    """Per section, int64 [n, 2] (y, x) of the top-left pixel of the crop of each of its
    `counts[i]` tiles (the cell starts `layout.margin` pixels above and left of it)."""
    origins, top = [], 0
    for count in counts:
        n = np.arange(count)
        rows, cols = np.divmod(n, layout.columns)
        y = top + layout.title + layout.gap + rows * (layout.cell + layout.caption + layout.gap) + layout.margin
        x = layout.gap + cols * (layout.cell + layout.gap) + layout.margin
        origins.append(np.stack([y, x], axis=1).astype(np.int64).reshape(-1, 2))
        top += layout.section_height(count)
    return origins


def regression_box(roi: np.ndarray, tile: int) -> np.ndarray:
    """float64 [4]: the face box of a crop in tile pixels, ``(roi + [0, 0, 1, 1]) * tile``."""
    return (np.asarray(roi, np.float64).reshape(4) + np.array([0.0, 0.0, 1.0, 1.0])) * tile


def has_box(cls: int, roi: np.ndarray) -> bool:
    """Whether a row carries a regression box: `POS` / `PART`, or `LANDMARK` with a non-zero roi."""
    return cls in (POS, PART) or (cls == LANDMARK and bool(np.any(np.asarray(roi) != 0)))


def caption(sample: Mapping) -> str:
    """Caption text of a tile: ``iou 0.73`` (when known), ``flip``, ``rN`` (rotation)."""
    parts = []
    if sample.get("iou") is not None:
        parts.append(f"{float(sample['iou']):.2f}")
    if bool(sample.get("mirror", False)):
        parts.append("flip")
    if float(sample.get("angle", 0.0)) != 0.0:
        parts.append(f"r{float(sample['angle']):.0f}")
    return " ".join(parts)


def draw_tile(sample: Mapping, tile: int, caption_height: int, nearest: bool = True,
              margin: int = 0) -> np.ndarray:
    """uint8 [C + caption_height, C, 3], C = tile + 2 margin: the enlarged crop at (margin,
    margin) with its targets (offset by margin, clipped to the cell), then its caption.

    Args:
        sample: a `read_mtcnn` sample (``image``, ``cls``, ``roi``, ``landmark``, optional ``iou``,
            ``mirror``, ``angle``).
        tile: side of the enlarged crop.
        caption_height: height of the caption strip (0 for none).
        nearest: nearest-neighbour enlarging (crisp source pixels) or bilinear.
        margin: background band around the crop.
    """
    cls = int(sample["cls"])
    image = draw.blank(tile + 2 * margin, tile + 2 * margin)
    image[margin:margin + tile, margin:margin + tile] = draw.enlarge(np.asarray(sample["image"], np.uint8),
                                                                     tile, nearest)
    if has_box(cls, sample["roi"]):
        thickness = 1 if tile < 64 else 2
        image = draw.draw_boxes(image, regression_box(sample["roi"], tile) + margin, draw.BOX_COLOUR, thickness)
    if cls == LANDMARK:
        points = np.asarray(sample["landmark"], np.float64).reshape(5, 2) * tile + margin
        image = draw.draw_points(image, points, draw.LANDMARK_COLOUR, max(1, tile // 40))
    if caption_height <= 0:
        return image
    strip = draw.blank(caption_height, image.shape[1])
    strip = draw.put_text(strip, caption(sample), (2, caption_height - 4), min(0.4, tile / 160))
    return np.concatenate([image, strip], axis=0)


def select_sections(samples: Iterable[dict], per_class: int,
                    totals: Mapping[int, int] | None = None) -> list[SheetSection]:
    """The first `per_class` samples of each class, in `samples` order, as sections in `SHEET_ORDER`.

    Args:
        samples: `read_mtcnn` samples in output order.
        per_class: tiles per class (>= 0).
        totals: class code -> number of samples of that class in the whole output (e.g. from the
            manifest). When given, iteration stops as soon as every class has
            ``min(per_class, total)`` samples; when None, every sample is counted.
    """
    chosen: dict[int, list[dict]] = {code: [] for code in SHEET_ORDER}
    counted: dict[int, int] = {code: 0 for code in SHEET_ORDER}
    for sample in samples:
        cls = int(sample["cls"])
        counted[cls] += 1
        if len(chosen[cls]) < per_class:
            chosen[cls].append(sample)
        if totals is not None and all(len(chosen[c]) >= min(per_class, totals.get(c, 0)) for c in SHEET_ORDER):
            break
    final = totals if totals is not None else counted
    return [SheetSection(CLASS_NAMES[c], int(final.get(c, 0)), tuple(chosen[c])) for c in SHEET_ORDER]


def contact_sheet(sections: Sequence[SheetSection], layout: SheetLayout, nearest: bool = True) -> np.ndarray:
    """uint8 [H, W, 3] BGR: each section's title ("pos: 32 of 1200") and its tiles.

    (H, W) is `sheet_shape(layout, [len(s.samples) for s in sections])`; tile n of section i
    has its crop at `tile_origins(...)[i][n]`. Margins, empty cells and gaps are `draw.BACKGROUND`.
    """
    counts = [len(s.samples) for s in sections]
    height, width = sheet_shape(layout, counts)
    sheet = draw.blank(height, width)
    top = 0
    for section, origins in zip(sections, tile_origins(layout, counts)):
        text = f"{section.name}: {len(section.samples)} of {section.total}"
        sheet[top:top + layout.title] = draw.title_bar(width, layout.title, text)
        for sample, (y, x) in zip(section.samples, origins - layout.margin):
            cell = draw_tile(sample, layout.tile, layout.caption, nearest, layout.margin)
            sheet[y:y + cell.shape[0], x:x + cell.shape[1]] = cell
        top += layout.section_height(len(section.samples))
    return sheet
