"""Hard examples for R-Net (24) and O-Net (48) from the previous stage's detections (B.6).

Per image (issue 3, reference-semantics B.6 (b), with the D.1 crop convention):

1. Square every detection about its centre with side ``round(max(w, h))`` (half up), top-left
   rounded half up to an integer (one half-open convention instead of the references'
   inclusive ``x2 = x1 + side - 1``, which biased offsets by 1/side between stages).
2. Drop squares with ``side < cfg.hard.min_size`` and, unless ``cfg.pad``, squares leaving the image.
3. Label by the max IoU over all faces: `NEG` if ``< neg_iou_thr`` and the square does not
   overlap an ignore region (IoF test, as for random negatives); `POS` if ``>= pos_iou_thr``;
   `PART` if ``>= part_iou_thr``; otherwise dropped. ``roi`` regresses to the argmax face.
4. Keep at most ``cfg.hard.neg_per_image`` negatives: with ``neg_keep`` ``score`` the
   highest-scoring ones (ties in detection order), ``random`` a uniform subset drawn from `rng`,
   ``first`` the first in detection order.

``hard.square: inclusive`` replaces rules 1-2 and the offsets by the references' (B.6 (b),
AITTSMD gen_hard_example.py:68-77 with utils.convert_to_square): ``w = x2 - x1 + 1``,
``side = max(w, h)``, ``x1' = x1 + w/2 - side/2``, ``x2' = x1' + side - 1``, all four rounded
half to even; dropped when the inclusive width ``x2' - x1' + 1`` is under ``min_size`` or
``x1' < 0``, ``y1' < 0``, ``x2' > W - 1``, ``y2' > H - 1``. The crop cut is the pixels
``x1'..x2'`` (the half-open ``[x1', x2' + 1)``, not always square after the rounding), the +1
IoU (``plus_one``) is taken on the inclusive box, and ``roi`` is
``((gx1 - x1') / w', (gy1 - y1') / h', (gx2 - x2') / w', (gy2 - y2') / h')`` with the inclusive
``w' = x2' - x1' + 1``: the references' 1/side shift between PNet and hard-example offsets.

Rows come out as: negatives (in detection order), then positives/parts (in detection order).
"""
from __future__ import annotations

import numpy as np

from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.labels import NEG, regression_targets
from samplegen.mtcnn.crop_plan import CropPlan, concat_plans, empty_plan, make_plan
from samplegen.boxes import best_iou
from samplegen.mtcnn.propose import centered_squares, classify_crops, record_size, inside_image, touches_ignore
from samplegen.record import Record


def square_detections(detections: np.ndarray) -> np.ndarray:
    """Rule 1: float32 [D, 4] integer squares for detections float [D, >=4] x1 y1 x2 y2 (...)."""
    det = np.asarray(detections, np.float64)
    side = np.floor(np.maximum(det[:, 2] - det[:, 0], det[:, 3] - det[:, 1]) + 0.5)
    return centered_squares((det[:, 0] + det[:, 2]) / 2, (det[:, 1] + det[:, 3]) / 2, side)


def inclusive_squares(detections: np.ndarray) -> np.ndarray:
    """float64 [D, 4] the references' inclusive squares ``x1 y1 x2 y2`` of detections float
    [D, >=4] (module docstring: convert_to_square, then rounded half to even)."""
    det = np.asarray(detections[:, :4], np.float64)
    w, h = det[:, 2] - det[:, 0] + 1, det[:, 3] - det[:, 1] + 1
    side = np.maximum(w, h)
    x1, y1 = det[:, 0] + w * 0.5 - side * 0.5, det[:, 1] + h * 0.5 - side * 0.5
    return np.round(np.stack([x1, y1, x1 + side - 1, y1 + side - 1], axis=1))


def inclusive_targets(crops: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """float32 [K, 4] the references' hard-example offsets of half-open `crops` [K, 4] (the
    inclusive box ``x2 - 1``, ``y2 - 1``) to `faces` [K, 4]: module docstring."""
    c, f = np.asarray(crops, np.float64), np.asarray(faces, np.float64)
    w, h = c[:, 2] - c[:, 0], c[:, 3] - c[:, 1]
    return np.stack([(f[:, 0] - c[:, 0]) / w, (f[:, 1] - c[:, 1]) / h, (f[:, 2] - (c[:, 2] - 1)) / w,
                     (f[:, 3] - (c[:, 3] - 1)) / h], axis=1).astype(np.float32).reshape(-1, 4)


def _cap_negatives(neg_idx: np.ndarray, scores: np.ndarray, cfg: MtcnnConfig,
                   rng: np.random.Generator) -> np.ndarray:
    """Rule 4: the kept subset of `neg_idx` (int64 [n] into the detections), sorted ascending."""
    cap = cfg.hard.neg_per_image
    if neg_idx.shape[0] <= cap:
        return neg_idx
    if cfg.hard.neg_keep == "first":
        return neg_idx[:cap]
    if cfg.hard.neg_keep == "score":
        order = np.argsort(-scores[neg_idx], kind="stable")[:cap]
    else:
        order = rng.choice(neg_idx.shape[0], size=cap, replace=False)
    return np.sort(neg_idx[order])


def _squares(detections: np.ndarray, cfg: MtcnnConfig, width: int, height: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kept detection indices, their half-open crops float32 [K, 4], the boxes IoU is taken on).

    The inclusive squares' tests (width ``x2' - x1' + 1``, ``x2' <= W - 1``) are the half-open
    crop's (width ``x2 - x1``, ``x2 <= W``): one rule for both conventions.
    """
    inclusive = cfg.hard.square == "inclusive"
    crops = ((inclusive_squares(detections) + np.array([0, 0, 1, 1])).astype(np.float32) if inclusive
             else square_detections(detections))
    keep = (crops[:, 2] - crops[:, 0]) >= np.float32(cfg.hard.min_size)
    if not cfg.pad:
        keep &= inside_image(crops, width, height)
    kept = np.flatnonzero(keep)
    crops = crops[kept]
    # The references' +1 IoU is over the inclusive box, one pixel short of the half-open crop.
    return kept, crops, (crops - np.float32([0, 0, 1, 1]) if inclusive and cfg.plus_one else crops)


def plan_hard(record: Record, detections: np.ndarray, cfg: MtcnnConfig,
              rng: np.random.Generator) -> CropPlan:
    """Hard-example crops of one image (module docstring, rules 1-4).

    Args:
        record: the image's annotation (faces, ignore regions, known width/height).
        detections: float32 [D, 5] ``x1 y1 x2 y2 score`` of the previous stage, after NMS and
            box regression; D == 0 gives an empty plan.
        cfg: the MTCNN config (`cfg.hard`, thresholds, `plus_one`, `pad`, `ignore_iof_thr`).
        rng: the image's generator; used only when ``cfg.hard.neg_keep`` is ``random``.

    Returns:
        A `CropPlan` of `NEG`, `POS` and `PART` rows; ``gt``/``roi`` as in `propose.plan_faces`.
    """
    detections = np.asarray(detections, np.float32)
    if detections.ndim != 2 or detections.shape[1] != 5:
        raise ValueError(f"detections must be float32 [D, 5], got shape {detections.shape}")
    if detections.shape[0] == 0:
        return empty_plan()
    width, height = record_size(record)
    kept, crops, iou_boxes = _squares(detections, cfg, width, height)
    best, idx = best_iou(iou_boxes, record.boxes, cfg.plus_one)
    neg = (best < np.float32(cfg.neg_iou_thr)) & ~touches_ignore(crops, record.ignore, cfg.ignore_iof_thr)
    neg_rows = _cap_negatives(np.flatnonzero(neg), detections[kept, 4], cfg, rng)
    negatives = make_plan(NEG, crops[neg_rows], iou=best[neg_rows])
    # Non-negatives (including sub-threshold squares over ignore regions) go to the IoU bands,
    # which drop everything under part_iou_thr.
    rest = ~neg
    targets = inclusive_targets if cfg.hard.square == "inclusive" else regression_targets
    positives = classify_crops(crops[rest], best[rest], idx[rest], record, cfg, targets)
    return concat_plans([negatives, positives])
