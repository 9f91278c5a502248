"""The IoU matrix ``O = IoU(gt, priors)`` (G x N, float32, `samplegen.boxes.iou`) in chunks.

IoU assigners never hold the matrix whole: priors are processed in chunks of at most
`samplegen.boxes.IOU_BLOCK_ELEMENTS / G` (and `MAX_CHUNK`) columns, so an FPN image (268k anchors)
with 100 boxes needs tens of megabytes, not gigabytes. Within a chunk only GTs that touch the
chunk's bounding box are computed; the others have IoU exactly +0.0, so the result is
bit-identical to the full matrix.

Pass 1 (`overlap_stats`) computes, per prior, the max IoU and its first argmax, and per GT the max
over all priors (first argmax) together with the max inside every chunk. The low-quality steps
need, per GT, every prior whose IoU equals the GT's global max; pass 2 (`last_gt_at_max`)
recomputes only the (chunk, GT) blocks whose chunk max equals that global max, so on real images
it touches a handful of chunks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samplegen.boxes import IOU_BLOCK_ELEMENTS, iof, iou

MIN_CHUNK = 256          # blocks stay within IOU_BLOCK_ELEMENTS up to 4,096 GTs (WIDER peaks at 1,968)
MAX_CHUNK = 8192          # short chunks are narrow bands, so most GTs skip them (`touching`)


@dataclass(frozen=True)
class OverlapStats:
    """Pass-1 statistics of the chunked IoU matrix."""

    max_iou: np.ndarray        # float32 [N]
    argmax: np.ndarray         # int64 [N], first GT on ties
    gt_max: np.ndarray         # float32 [G]
    gt_argmax: np.ndarray      # int64 [G], first prior on ties
    chunk_gt_max: np.ndarray   # float32 [C, G]
    chunk_size: int


def chunk_size_for(num_gts: int) -> int:
    """Priors per chunk so that one chunk's IoU block holds about `IOU_BLOCK_ELEMENTS` entries."""
    return min(MAX_CHUNK, max(MIN_CHUNK, IOU_BLOCK_ELEMENTS // max(num_gts, 1)))


def ignored_priors(priors: np.ndarray, ignore_boxes: np.ndarray, thr: float, wrt_candidates: bool) -> np.ndarray:
    """bool [N]: priors whose max IoF with an ignore box is **strictly** above `thr` (C.5 step 2).

    IoF is ``inter / area(prior)`` (mmdet ``ignore_wrt_candidates=True``) or ``inter /
    area(ignore box)``. Off (all False) when ``thr <= 0`` or there are no ignore boxes.
    """
    if thr <= 0 or len(ignore_boxes) == 0 or len(priors) == 0:
        return np.zeros(len(priors), dtype=bool)
    if wrt_candidates:
        return iof(priors, ignore_boxes).max(axis=1) > thr
    return iof(ignore_boxes, priors).max(axis=0) > thr


class BoxOverlaps:
    """IoU blocks ``O[rows, start:stop]`` computed on demand from boxes; ignored columns -1."""

    def __init__(self, gt_boxes: np.ndarray, priors: np.ndarray, ignored: np.ndarray):
        self.gt_boxes, self.priors, self.ignored = gt_boxes, priors, ignored
        self.shape = (len(gt_boxes), len(priors))

    def block(self, rows: np.ndarray | slice, start: int, stop: int) -> np.ndarray:
        gts, priors = self.gt_boxes[rows], self.priors[start:stop]
        out = np.zeros((len(gts), len(priors)), dtype=np.float32)
        near = touching(gts, priors)
        if near.all():
            out[:] = iou(gts, priors)
        elif near.any():
            out[near] = iou(gts[near], priors)
        out[:, self.ignored[start:stop]] = -1
        return out


def touching(gts: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """bool [G]: GTs that may intersect a prior of the block (its bounding box).

    A GT outside the block's bounding box has ``inter = 0`` with every prior of the block, so its
    IoU row is exactly +0.0; skipping it keeps results bit-identical. Priors are row-major per
    level, so a chunk is a horizontal band and most GTs are skipped.
    """
    if len(priors) == 0:
        return np.zeros(len(gts), dtype=bool)
    x1, y1 = priors[:, 0].min(), priors[:, 1].min()
    x2, y2 = priors[:, 2].max(), priors[:, 3].max()
    return (gts[:, 0] < x2) & (gts[:, 2] > x1) & (gts[:, 1] < y2) & (gts[:, 3] > y1)


class ChunkedOverlaps:
    """`overlap_stats` / `last_gt_at_max` of a block source (`BoxOverlaps`, `MatrixOverlaps`) as
    one object, the interface `windows.WindowedOverlaps` shares."""

    def __init__(self, source, chunk: int):
        self.source, self.chunk = source, chunk
        self.shape = source.shape

    def stats(self) -> "OverlapStats":
        return overlap_stats(self.source, self.chunk)

    def last_gt_at_max(self, stats: "OverlapStats", qualified: np.ndarray) -> np.ndarray:
        return last_gt_at_max(self.source, stats, qualified)


class MatrixOverlaps:
    """Blocks of a given G x N overlap matrix (for `assign_wrt_overlaps`)."""

    def __init__(self, overlaps: np.ndarray):
        self.overlaps = overlaps
        self.shape = overlaps.shape

    def block(self, rows: np.ndarray | slice, start: int, stop: int) -> np.ndarray:
        return self.overlaps[rows, start:stop]


def overlap_stats(source, chunk: int) -> OverlapStats:
    num_gts, num = source.shape
    max_iou = np.empty(num, dtype=np.float32)
    argmax = np.empty(num, dtype=np.int64)
    gt_max = np.full(num_gts, -np.inf, dtype=np.float32)
    gt_argmax = np.zeros(num_gts, dtype=np.int64)
    starts = range(0, num, chunk)
    chunk_gt_max = np.empty((len(starts), num_gts), dtype=np.float32)
    for c, start in enumerate(starts):
        stop = min(start + chunk, num)
        block = source.block(slice(None), start, stop)
        argmax[start:stop] = block.argmax(axis=0)
        max_iou[start:stop] = block[argmax[start:stop], np.arange(stop - start)]
        local_arg = block.argmax(axis=1)
        local_max = block[np.arange(num_gts), local_arg]
        better = local_max > gt_max            # strict: an earlier chunk keeps the tie
        gt_max[better] = local_max[better]
        gt_argmax[better] = local_arg[better] + start
        chunk_gt_max[c] = local_max
    return OverlapStats(max_iou, argmax, gt_max, gt_argmax, chunk_gt_max, chunk)


def last_gt_at_max(source, stats: OverlapStats, qualified: np.ndarray) -> np.ndarray:
    """int64 [N]: the last qualified GT i with ``O[i, j] == gt_max[i]`` for prior j, or -1.

    Only (chunk, GT) blocks whose chunk max reaches the GT's global max are recomputed.
    """
    num = source.shape[1]
    hits = np.full(num, -1, dtype=np.int64)
    reach = (stats.chunk_gt_max == stats.gt_max[None, :]) & qualified[None, :]
    for c in np.flatnonzero(reach.any(axis=1)):
        rows = np.flatnonzero(reach[c])
        start = c * stats.chunk_size
        stop = min(start + stats.chunk_size, num)
        block = source.block(rows, start, stop)
        equal = block == stats.gt_max[rows][:, None]
        any_hit = equal.any(axis=0)
        last = len(rows) - 1 - equal[::-1].argmax(axis=0)
        hits[start:stop][any_hit] = rows[last[any_hit]]
    return hits
