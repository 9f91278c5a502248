"""Hard examples for R-Net (24) and O-Net (48) from the previous stage's detections (B.6).

Per image (issue 3, reference-semantics B.6 (b), with the D.1 crop convention):

1. Square every detection about its centre with side ``round(max(w, h))`` (half up), top-left
   rounded half up to an integer (one half-open convention instead of the references'
   inclusive ``x2 = x1 + side - 1``, which biased offsets by 1/side between stages).
2. Drop squares with ``side < cfg.hard.min_size`` and, unless ``cfg.pad``, squares leaving the image.
3. Label by the max IoU over all faces: `NEG` if ``< neg_iou_thr`` and the square does not
   overlap an ignore region (IoF test, as for random negatives); `POS` if ``>= pos_iou_thr``;
   `PART` if ``>= part_iou_thr``; otherwise dropped. ``roi`` regresses to the argmax face.
4. Keep at most ``cfg.hard.neg_per_image`` negatives: the highest-scoring ones (ties in
   detection order) with ``neg_by_score``, else a uniform random subset drawn from `rng`.

Rows come out as: negatives (in detection order), then positives/parts (in detection order).
"""
from __future__ import annotations

import numpy as np

from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.labels import NEG
from samplegen.mtcnn.crop_plan import CropPlan, concat_plans, empty_plan, make_plan
from samplegen.boxes import best_iou
from samplegen.mtcnn.propose import centered_squares, classify_crops, record_size, inside_image, touches_ignore
from samplegen.record import Record


def square_detections(detections: np.ndarray) -> np.ndarray:
    """Rule 1: float32 [D, 4] integer squares for detections float [D, >=4] x1 y1 x2 y2 (...)."""
    det = np.asarray(detections, np.float64)
    side = np.floor(np.maximum(det[:, 2] - det[:, 0], det[:, 3] - det[:, 1]) + 0.5)
    return centered_squares((det[:, 0] + det[:, 2]) / 2, (det[:, 1] + det[:, 3]) / 2, side)


def _cap_negatives(neg_idx: np.ndarray, scores: np.ndarray, cfg: MtcnnConfig,
                   rng: np.random.Generator) -> np.ndarray:
    """Rule 4: the kept subset of `neg_idx` (int64 [n] into the detections), sorted ascending."""
    cap = cfg.hard.neg_per_image
    if neg_idx.shape[0] <= cap:
        return neg_idx
    if cfg.hard.neg_by_score:
        order = np.argsort(-scores[neg_idx], kind="stable")[:cap]
    else:
        order = rng.choice(neg_idx.shape[0], size=cap, replace=False)
    return np.sort(neg_idx[order])


def plan_hard(record: Record, detections: np.ndarray, cfg: MtcnnConfig,
              rng: np.random.Generator) -> CropPlan:
    """Hard-example crops of one image (module docstring, rules 1-4).

    Args:
        record: the image's annotation (faces, ignore regions, known width/height).
        detections: float32 [D, 5] ``x1 y1 x2 y2 score`` of the previous stage, after NMS and
            box regression; D == 0 gives an empty plan.
        cfg: the MTCNN config (`cfg.hard`, thresholds, `plus_one`, `pad`, `ignore_iof_thr`).
        rng: the image's generator; used only when ``cfg.hard.neg_by_score`` is false.

    Returns:
        A `CropPlan` of `NEG`, `POS` and `PART` rows; ``gt``/``roi`` as in `propose.plan_faces`.
    """
    detections = np.asarray(detections, np.float32)
    if detections.ndim != 2 or detections.shape[1] != 5:
        raise ValueError(f"detections must be float32 [D, 5], got shape {detections.shape}")
    if detections.shape[0] == 0:
        return empty_plan()
    width, height = record_size(record)
    crops = square_detections(detections)
    keep = (crops[:, 2] - crops[:, 0]) >= np.float32(cfg.hard.min_size)
    if not cfg.pad:
        keep &= inside_image(crops, width, height)
    kept = np.flatnonzero(keep)
    crops = crops[kept]
    best, idx = best_iou(crops, record.boxes, cfg.plus_one)
    neg = (best < np.float32(cfg.neg_iou_thr)) & ~touches_ignore(crops, record.ignore, cfg.ignore_iof_thr)
    neg_rows = _cap_negatives(np.flatnonzero(neg), detections[kept, 4], cfg, rng)
    negatives = make_plan(NEG, crops[neg_rows], iou=best[neg_rows])
    # Non-negatives (including sub-threshold squares over ignore regions) go to the IoU bands,
    # which drop everything under part_iou_thr.
    rest = ~neg
    positives = classify_crops(crops[rest], best[rest], idx[rest], record, cfg)
    return concat_plans([negatives, positives])
