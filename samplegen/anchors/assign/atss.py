"""mmdetection's ATSSAssigner (adaptive training sample selection, Zhang et al. 2020).

Per GT, the ``topk`` priors nearest to its centre on every level are candidates; the IoU threshold
is the candidates' mean + unbiased std; candidates at or above it whose centre lies inside the GT
(by more than ``center_inside_eps``) are positive, and a prior positive for several GTs takes the
highest IoU (reference-semantics C.9). The full [N, G] IoU and distance matrices are held: ATSS
has one prior per location (22,400 at 800x1344), so 100 boxes cost about 20 MB.

Tie rule (documented deviation, D.2): among equidistant priors at the top-k boundary samplegen
keeps the lowest index (stable sort); ``torch.topk`` may pick others, so such GTs can differ.
"""
from __future__ import annotations

import numpy as np

from samplegen.anchors.assign.result import Assignment
from samplegen.anchors.labels import IGNORE, NEGATIVE, NO_LABEL
from samplegen.boxes import iof, iou

ATSS_INF = np.float32(100000000)  # mmdet's INF for ignored distances and non-candidates


def _centres(boxes: np.ndarray) -> np.ndarray:
    two = np.float32(2)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / two, (boxes[:, 1] + boxes[:, 3]) / two], axis=1)


def atss_candidates(distances: np.ndarray, counts: np.ndarray, topk: int) -> np.ndarray:
    """int64 [K, G]: per level the ``min(topk, N_l)`` nearest priors of each GT (lowest index on
    ties), levels concatenated in order."""
    out, start = [], 0
    for count in counts:
        k = min(topk, int(count))
        order = np.argsort(distances[start:start + count], axis=0, kind="stable")[:k]
        out.append(order + start)
        start += int(count)
    return np.concatenate(out) if out else np.zeros((0, distances.shape[1]), np.int64)


def assign_atss(priors: np.ndarray, counts: np.ndarray, gt_boxes: np.ndarray, gt_labels: np.ndarray,
                ignore_boxes: np.ndarray, topk: int, ignore_iof_thr: float,
                center_inside_eps: float) -> Assignment:
    """mmdet 3.3.0 ``ATSSAssigner(topk, alpha=None, ignore_iof_thr)`` on one image (C.9).

    1. ``O = IoU(priors, gt)`` and centre distances ``sqrt(dx^2 + dy^2)`` (float32).
    2. Ignore (``ignore_iof_thr > 0``): priors with max IoF above it get distance 1e8 and IGNORE.
    3. Candidates per level: the ``min(topk, N_l)`` nearest priors (`atss_candidates`).
    4. ``thr_g = mean + std`` (unbiased) of the candidates' IoUs.
    5. Positive: ``IoU >= thr_g`` and ``min(cx - x1, cy - y1, x2 - cx, y2 - cy) > eps``.
    6. A prior positive for several GTs takes the highest IoU (first GT on ties): ``g + 1``; all
       others stay NEGATIVE (or IGNORE). No GT: every prior NEGATIVE.

    Args:
        priors: float32 [N, 4]; counts: int [L] priors per level.
        gt_boxes: float32 [G, 4]; gt_labels: int [G]; ignore_boxes: float32 [M, 4].

    Returns:
        `Assignment`; ``max_iou`` is each prior's max IoU over the GTs (mmdet reports -1e8 for
        non-positives instead).
    """
    num, num_gts = len(priors), len(gt_boxes)
    assigned = np.full(num, NEGATIVE, np.int64)
    if num == 0 or num_gts == 0:
        return Assignment(assigned.astype(np.int32), np.zeros(num, np.float32), np.full(num, NO_LABEL, np.int32))
    overlaps = iou(priors, gt_boxes)
    pc, gc = _centres(priors), _centres(gt_boxes)
    diff = pc[:, None, :] - gc[None, :, :]
    distances = np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1])
    if ignore_iof_thr > 0 and len(ignore_boxes):
        ignored = iof(priors, ignore_boxes).max(axis=1) > ignore_iof_thr
        distances[ignored] = ATSS_INF
        assigned[ignored] = IGNORE
    cand = atss_candidates(distances, counts, topk)
    cols = np.arange(num_gts)
    cand_iou = overlaps[cand, cols[None, :]]
    wide = cand_iou.astype(np.float64)
    thr = wide.mean(axis=0).astype(np.float32) + wide.std(axis=0, ddof=1).astype(np.float32)
    x, y = pc[cand, 0], pc[cand, 1]
    inside = np.minimum(np.minimum(x - gt_boxes[:, 0], y - gt_boxes[:, 1]),
                        np.minimum(gt_boxes[:, 2] - x, gt_boxes[:, 3] - y)) > np.float32(center_inside_eps)
    is_pos = (cand_iou >= thr[None, :]) & inside
    best = np.full((num, num_gts), -ATSS_INF, np.float32)
    rows, gts = cand[is_pos], np.broadcast_to(cols, cand.shape)[is_pos]
    best[rows, gts] = overlaps[rows, gts]
    arg = best.argmax(axis=1)
    hit = best[np.arange(num), arg] != -ATSS_INF
    assigned[hit] = arg[hit] + 1
    labels = np.full(num, NO_LABEL, np.int32)
    labels[hit] = np.asarray(gt_labels)[arg[hit]]
    return Assignment(assigned.astype(np.int32), overlaps.max(axis=1), labels)
