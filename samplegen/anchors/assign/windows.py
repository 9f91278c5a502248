"""The IoU statistics of priors laid out on grids, computed only where a GT can overlap them.

Grid priors (mmdet / torchvision anchors, SSD default boxes, YOLO anchors) are stored level by
level as ``[H, W, A]`` cells (flat index ``start + (y W + x) A + a``, `samplegen.anchors.priors`),
and a prior's x extent depends on its column and base anchor only, its y extent on its row and
base anchor (``base[a] + shift``). So in a level:

* a GT ``[gx1, gx2]`` can only intersect the columns with ``x2 > gx1`` and ``x1 < gx2``; outside
  that window every intersection width is ``<= 0`` and clamps to 0, and the IoU is exactly +0.0,
  what the full matrix holds there (likewise for rows);
* inside the window the intersection is the outer product of the per-column widths and per-row
  heights, the very float32 operations of `samplegen.boxes.iou` (``w * h``, then ``area_g +
  area_p - inter`` and the clamped division), so the values are bit-identical.

The statistics (`OverlapStats`: per-prior max / first argmax, per-GT max / first argmax) and the
low-quality hit sets equal those of `overlaps.overlap_stats` / `last_gt_at_max`, at a cost
proportional to the windows instead of G x A.

With ``prune_below = t > 0`` (labelling without a dense ``max_iou``), a (GT, level, base anchor)
whose IoU cannot reach t by area alone (``IoU <= min(A_g, A_p) / max(A_g, A_p)``) is skipped:
FPN's 32 px anchors never meet a 600 px box at 0.3. Every prior's max is then exact where it is
>= t and a lower bound below t, which decides NEGATIVE / IGNORE / positive exactly as long as t is
at most the negative and positive thresholds (the caller's choice); a GT whose best IoU stays
under t is recomputed whole, so its max and ties (the low-quality step) are exact.

`WindowedOverlaps.usable` says when this holds: every GT's best IoU is > 0. A GT whose best IoU
is 0 (a zero-area box, mmdet #8289) ties with priors outside every window; the caller then uses
the chunked full matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from samplegen.anchors.assign.overlaps import OverlapStats
from samplegen.boxes import IOU_EPS

F32 = np.float32
AREA_BOUND_MARGIN = 1e-4    # relative slack on the area bound (float32 areas vs the float64 bound)


@dataclass(frozen=True)
class GridLevel:
    """One level of grid priors: ``[H, W, A]`` cells with separable extents (float32).

    Attributes:
        start: flat index of the level's first prior.
        x1, x2: [W, A] column extents; y1, y2: [H, A] row extents.
        area: [H, W, A] prior areas ``(x2 - x1) * (y2 - y1)`` as `samplegen.boxes.box_area`.
        area_lo, area_hi: [A] min / max area per base anchor (for the pruning bound).
    """

    start: int
    x1: np.ndarray
    x2: np.ndarray
    y1: np.ndarray
    y2: np.ndarray
    area: np.ndarray
    area_lo: np.ndarray
    area_hi: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.area.shape

    @property
    def size(self) -> int:
        return self.area.size


def prior_grid(priors: np.ndarray, counts: Sequence[int],
               featmap_sizes: Sequence[tuple[int, int]]) -> tuple[GridLevel, ...] | None:
    """The levels of priors float32 [A, 4] with int [L] `counts` on ``(H, W)`` maps, or None when
    they are not ``[H, W, A]`` cells with separable, monotone extents (then use the full matrix)."""
    if len(counts) != len(featmap_sizes) or int(np.sum(counts)) != len(priors):
        return None
    levels, start = [], 0
    for count, (h, w) in zip(counts, featmap_sizes):
        count = int(count)
        if h * w == 0 or count % (h * w):
            return None
        cells = priors[start:start + count].reshape(h, w, count // (h * w), 4)
        x1, x2, y1, y2 = cells[0, :, :, 0], cells[0, :, :, 2], cells[:, 0, :, 1], cells[:, 0, :, 3]
        separable = (np.array_equal(cells[..., 0], np.broadcast_to(x1, cells.shape[:3]))
                     and np.array_equal(cells[..., 2], np.broadcast_to(x2, cells.shape[:3]))
                     and np.array_equal(cells[..., 1], np.broadcast_to(y1[:, None, :], cells.shape[:3]))
                     and np.array_equal(cells[..., 3], np.broadcast_to(y2[:, None, :], cells.shape[:3])))
        monotone = all((np.diff(b.min(axis=1) if k % 2 == 0 else b.max(axis=1)) >= 0).all()
                       for k, b in enumerate((x1, x2, y1, y2)))
        if not (separable and monotone):
            return None
        widths, heights = x2 - x1, y2 - y1
        area = widths[None, :, :] * heights[:, None, :]      # box_area's (x2 - x1) * (y2 - y1)
        # rounding is monotone on positive products: the extreme areas are the extreme sides' products
        levels.append(GridLevel(start, x1.copy(), x2.copy(), y1.copy(), y2.copy(), area,
                                widths.min(axis=0) * heights.min(axis=0), widths.max(axis=0) * heights.max(axis=0)))
        start += count
    return tuple(levels)


def _span(lo: np.ndarray, hi: np.ndarray, a: np.float32, b: np.float32) -> slice | None:
    """Cells whose [lo, hi] extent may intersect [a, b]: ``hi > a`` and ``lo < b`` (monotone)."""
    start = int(np.searchsorted(hi.max(axis=1), a, side="right"))
    stop = int(np.searchsorted(lo.min(axis=1), b, side="left"))
    return slice(start, stop) if start < stop else None


class WindowedOverlaps:
    """``O = IoU(gt, priors)`` of grid priors (ignored columns -1), evaluated window by window.

    The same two passes as `samplegen.anchors.assign.overlaps` (``stats``, ``last_gt_at_max``).
    """

    def __init__(self, gt_boxes: np.ndarray, levels: tuple[GridLevel, ...], num: int, ignored: np.ndarray,
                 prune_below: float = 0.0):
        self.gt_boxes, self.levels, self.num, self.ignored = gt_boxes, levels, num, ignored
        self.shape = (len(gt_boxes), num)
        self.prune_below = prune_below
        self._gt_area = (gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1])
        self._ignored_cells = ([ignored[lv.start:lv.start + lv.size].reshape(lv.shape) for lv in levels]
                               if ignored.any() else None)
        self._block_max: np.ndarray | None = None

    def _anchors(self, i: int, k: int, prune: bool) -> np.ndarray | slice:
        """The base anchors of level k that GT i can reach at ``prune_below`` (all: a slice)."""
        lv = self.levels[k]
        if not prune or self.prune_below <= 0:
            return slice(None)
        ag = float(self._gt_area[i])
        bound = np.where(ag >= lv.area_hi, lv.area_hi / max(ag, 1e-30),
                         np.where(ag <= lv.area_lo, ag / np.maximum(lv.area_lo, 1e-30), 1.0))
        return np.flatnonzero(bound >= self.prune_below * (1 - AREA_BOUND_MARGIN))

    def _values(self, i: int, k: int, anchors: np.ndarray | slice) -> tuple[tuple, np.ndarray] | None:
        """(index, values float32 [h, w, a]): row i of O on its window of level k, bit for bit."""
        lv, box = self.levels[k], self.gt_boxes[i]
        x1, x2, y1, y2 = lv.x1[:, anchors], lv.x2[:, anchors], lv.y1[:, anchors], lv.y2[:, anchors]
        if x1.shape[1] == 0:
            return None
        cols, rows = _span(x1, x2, box[0], box[2]), _span(y1, y2, box[1], box[3])
        if cols is None or rows is None:
            return None
        zero = F32(0)
        w = np.maximum(np.minimum(box[2], x2[cols]) - np.maximum(box[0], x1[cols]), zero)     # [w, a]
        h = np.maximum(np.minimum(box[3], y2[rows]) - np.maximum(box[1], y1[rows]), zero)     # [h, a]
        inter = w[None, :, :] * h[:, None, :]
        index = (rows, cols, anchors)
        union = self._gt_area[i] + lv.area[index] - inter
        values = inter / np.maximum(union, F32(IOU_EPS))
        if self._ignored_cells is not None:
            values[self._ignored_cells[k][index]] = -1
        return index, values

    def stats(self) -> OverlapStats:
        """Per prior: max over GTs and first argmax; per GT: max over priors and first argmax."""
        num_gts = len(self.gt_boxes)
        max_iou = np.zeros(self.num, np.float32)
        argmax = np.zeros(self.num, np.int64)
        gt_max = np.zeros(num_gts, np.float32)
        gt_argmax = np.zeros(num_gts, np.int64)
        self._block_max = np.full((num_gts, len(self.levels)), -np.inf, np.float32)
        views = [(max_iou[lv.start:lv.start + lv.size].reshape(lv.shape),
                  argmax[lv.start:lv.start + lv.size].reshape(lv.shape)) for lv in self.levels]
        for i in range(num_gts):               # GT order: strict '>' keeps the first GT on ties
            for k in range(len(self.levels)):
                found = self._values(i, k, self._anchors(i, k, prune=True))
                if found is None:
                    continue
                index, values = found
                level_max, level_arg = views[k][0][index], views[k][1][index]
                better = values > level_max
                if isinstance(index[2], slice):   # basic indexing: views, updated in place
                    level_max[better] = values[better]
                    level_arg[better] = i
                else:
                    views[k][0][index] = np.where(better, values, level_max)
                    views[k][1][index] = np.where(better, i, level_arg)
                self._gt_block(i, k, index, values, gt_max, gt_argmax)
        for i in np.flatnonzero(gt_max < self.prune_below):   # pruned GTs: exact max and ties
            gt_max[i], self._block_max[i] = 0, -np.inf
            for k in range(len(self.levels)):
                found = self._values(i, k, slice(None))
                if found is not None:
                    self._gt_block(i, k, *found, gt_max, gt_argmax)
        if self._ignored_cells is not None:
            max_iou[self.ignored] = -1
            argmax[self.ignored] = 0
        return OverlapStats(max_iou, argmax, gt_max, gt_argmax, self._block_max.T.copy(), 0)

    def _gt_block(self, i: int, k: int, index: tuple, values: np.ndarray, gt_max: np.ndarray,
                  gt_argmax: np.ndarray) -> None:
        """GT i's max over one window; levels in order and strict '>': the first prior on ties."""
        flat = int(values.argmax())
        best = values.flat[flat]
        self._block_max[i, k] = max(self._block_max[i, k], best)
        if best > gt_max[i]:
            gt_max[i] = best
            gt_argmax[i] = self._flat_index(k, index, values.shape, flat)

    def _flat_index(self, k: int, index: tuple, shape: tuple, flat: int) -> int:
        lv = self.levels[k]
        rows, cols, anchors = index
        _, width, per_cell = lv.shape
        y, x, a = np.unravel_index(flat, shape)
        a = int(a) if isinstance(anchors, slice) else int(anchors[a])
        return lv.start + ((rows.start + int(y)) * width + cols.start + int(x)) * per_cell + a

    def usable(self, stats: OverlapStats) -> bool:
        """False when some GT's max IoU is <= 0: its ties then span priors outside the windows."""
        return bool((stats.gt_max > 0).all())

    def last_gt_at_max(self, stats: OverlapStats, qualified: np.ndarray) -> np.ndarray:
        """int64 [N]: the last qualified GT i with ``O[i, j] == gt_max[i]`` for prior j, or -1."""
        hits = np.full(self.num, -1, np.int64)
        for i in np.flatnonzero(qualified):
            for k, lv in enumerate(self.levels):
                if self._block_max[i, k] != stats.gt_max[i]:
                    continue
                index, values = self._values(i, k, slice(None))
                rows, cols, _ = index
                level = hits[lv.start:lv.start + lv.size].reshape(lv.shape)
                level[rows, cols][values == stats.gt_max[i]] = i
        return hits
