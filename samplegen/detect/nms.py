"""Greedy non-maximum suppression exactly as the MTCNN references compute it.

Both references (ipazc ``MTCNN.__nms``, AITTSMD ``Detection/nms.py py_nms``) order the boxes
once with ``np.argsort(scores)`` and take the *last* remaining index as the next kept box, then
drop every remaining box whose overlap with it is ``> iou`` (kept: ``<=``), preserving the
order of the rest. Among equal scores the kept box is therefore whichever ``np.argsort`` (its
default, unstable sort) puts last; scores tie often (PNet's float32 softmax saturates near 1),
so the same sort on the same float64 array in the same input order is part of exactness.
Overlaps are computed with the references' operations, in float64:

    w = max(0, min(x2_i, x2_j) - max(x1_i, x1_j) + 1)      (+1 with plus_one)
    union:  inter / (area_i + area_j - inter)      min:  inter / min(area_i, area_j)

The references' loop costs O(kept x N) numpy calls, and after PNet most boxes are kept (the
cross-level and RNet NMS at 0.7 keep ~95 %). `nms` computes the same overlaps only for pairs
that intersect (found by a sweep over x1), then runs the greedy pass over that sparse graph: the
same kept set in the same order, ~10x faster on a thousand boxes. Every pair it skips has
intersection 0 and overlap 0 <= iou, which holds when all areas are positive; with a
degenerate box (area <= 0, where 0 / 0 = nan drops a box in the references) it runs the
references' loop instead (`nms_reference`).
"""
from __future__ import annotations

import numpy as np

from samplegen.detect.config import NmsConfig

_MAX_PAIRS = 1 << 22  # candidate pairs per chunk (~32 MB of float64 temporaries)


def _overlap(x1, y1, x2, y2, areas, i, j, cfg: NmsConfig) -> np.ndarray:
    """Overlaps of boxes i with boxes j (index arrays or scalars), the references' formula."""
    one = 1.0 if cfg.plus_one else 0.0
    w = np.maximum(0.0, np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]) + one)
    h = np.maximum(0.0, np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]) + one)
    inter = w * h
    # Degenerate boxes can have zero area; their nan/inf overlaps drop or keep them just as
    # the references' unguarded division does.
    with np.errstate(divide="ignore", invalid="ignore"):
        if cfg.mode == "min":
            return inter / np.minimum(areas[i], areas[j])
        return inter / (areas[i] + areas[j] - inter)


def _columns(boxes: np.ndarray, scores: np.ndarray, cfg: NmsConfig):
    if boxes.ndim != 2 or boxes.shape[1] < 4 or scores.shape != boxes.shape[:1]:
        raise ValueError(f"boxes {boxes.shape} and scores {scores.shape} do not match")
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k], dtype=np.float64) for k in range(4))
    one = 1.0 if cfg.plus_one else 0.0
    return x1, y1, x2, y2, (x2 - x1 + one) * (y2 - y1 + one)


def nms_reference(boxes: np.ndarray, scores: np.ndarray, cfg: NmsConfig) -> np.ndarray:
    """The references' loop, verbatim in semantics; same contract as `nms`."""
    x1, y1, x2, y2, areas = _columns(boxes, scores, cfg)
    order = np.argsort(scores)
    keep = []
    while order.size > 0:
        i = order[-1]
        keep.append(i)
        rest = order[:-1]
        order = rest[_overlap(x1, y1, x2, y2, areas, i, rest, cfg) <= cfg.iou]
    return np.asarray(keep, dtype=np.int64)


def _candidate_pairs(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, one: float):
    """Yield chunks ``(a, b)`` of index pairs that may intersect: a superset of the pairs with
    positive intersection, found by a sweep over x1 and a y-range test."""
    by_x1 = np.argsort(x1, kind="stable")
    sx1, sx2, sy1, sy2 = x1[by_x1], x2[by_x1], y1[by_x1], y2[by_x1]
    # Box p (in x1 order) can only meet boxes q > p with x1_q <= x2_p + one.
    ends = np.searchsorted(sx1, sx2 + one, side="right")
    counts = np.maximum(ends - np.arange(1, len(x1) + 1), 0)
    start = 0
    while start < len(x1):
        stop = start + max(1, int(np.searchsorted(np.cumsum(counts[start:]), _MAX_PAIRS, side="right")))
        chunk = counts[start:stop]
        total = int(chunk.sum())
        if total:
            p = np.repeat(np.arange(start, stop), chunk)
            # q runs from p + 1 for each p: a running index minus each run's offset.
            q = p + 1 + (np.arange(total) - np.repeat(np.cumsum(chunk) - chunk, chunk))
            near = (sy1[q] <= sy2[p] + one) & (sy1[p] <= sy2[q] + one)
            yield by_x1[p[near]], by_x1[q[near]]
        start = stop


def nms(boxes: np.ndarray, scores: np.ndarray, cfg: NmsConfig) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, in the order they are kept (best first).

    Args:
        boxes: float64 [N, 4] ``x1 y1 x2 y2`` (more columns are ignored).
        scores: float64 [N] (float32 scores widened: the references sort float64 arrays).
        cfg: `NmsConfig` (threshold, ``union``/``min``, ``+1`` widths).

    Returns:
        int64 [K] indices into `boxes`, equal to `nms_reference`'s; [0] for no boxes.
    """
    x1, y1, x2, y2, areas = _columns(boxes, scores, cfg)
    n = len(scores)
    if n == 0:
        return np.zeros(0, np.int64)
    if not (areas > 0).all():
        return nms_reference(boxes, scores, cfg)
    visit = np.argsort(scores)[::-1]          # the references' processing order
    rank = np.empty(n, np.int64)
    rank[visit] = np.arange(n)
    sources, targets = [], []
    for a, b in _candidate_pairs(x1, y1, x2, y2, 1.0 if cfg.plus_one else 0.0):
        hit = _overlap(x1, y1, x2, y2, areas, a, b, cfg) > cfg.iou
        ra, rb = rank[a[hit]], rank[b[hit]]
        sources.append(np.minimum(ra, rb))    # the earlier-visited box suppresses the later
        targets.append(np.maximum(ra, rb))
    if not sources:
        return visit.astype(np.int64)
    src, dst = np.concatenate(sources), np.concatenate(targets)
    by_src = np.argsort(src, kind="stable")
    src, dst = src[by_src], dst[by_src]
    # The greedy pass over the sparse graph, in Python lists: n + edges cheap steps.
    bounds = np.searchsorted(src, np.arange(n + 1)).tolist()
    dst_list = dst.tolist()
    suppressed = bytearray(n)
    kept = []
    for r in range(n):
        if suppressed[r]:
            continue
        kept.append(r)
        for t in dst_list[bounds[r]:bounds[r + 1]]:
            suppressed[t] = 1
    return visit[np.asarray(kept, np.int64)].astype(np.int64)
