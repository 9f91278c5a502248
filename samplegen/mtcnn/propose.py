"""Positive, part and negative crop geometry for one image: boxes in, `CropPlan` out, no pixels.

Rules (issue 3, reference-semantics B.2-B.4 with the D.1 defaults):

1. Seed faces: boxes with ``w > 0``, ``h > 0`` and ``max(w, h) >= cfg.min_face``. Smaller faces
   seed nothing but are still faces for every IoU test.
2. Random negatives: up to ``cfg.neg_per_image`` squares with an integer side in
   ``[neg_min_size, floor(neg_max_frac * min(W, H))]`` placed uniformly inside the image, accepted
   when the max IoU with every face is ``< neg_iou_thr`` and the IoF with every ignore region is
   ``<= ignore_iof_thr``. Attempts are drawn in vectorised rounds and capped at
   ``cfg.neg_max_attempts`` (the references loop forever). An image whose side range is empty
   (``min(W, H)`` too small) gets no random or near-face negatives.
3. Near-face negatives: ``cfg.neg_near_attempts`` per seed face, side as in 2, top-left corner
   uniform in ``[gx1 - side, gx2] x [gy1 - side, gy2]`` (B.4, clamped to the image unless `pad`),
   accepted by the test of 2.
4. Positives/parts: ``cfg.pos_attempts`` per seed face; integer side uniform in
   ``[ceil(lo * min(w, h)), floor(hi * max(w, h))]``; centre ``((x1+x2)/2 + dx, (y1+y2)/2 + dy)``
   with ``dx ~ U[-j*w, j*w]``, ``dy ~ U[-j*h, j*h]`` (symmetric, D.1); top-left rounded half up to
   an integer. Classified by the max IoU over all faces (or the seed face with
   `match_sampled_face`): `POS` if ``iou >= pos_iou_thr``, `PART` if ``part_iou_thr <= iou <
   pos_iou_thr``, otherwise dropped. ``roi`` regresses to the best-matching face.

Crops leaving the image are dropped unless ``cfg.pad``. IoU is `samplegen.boxes.iou` in float32 on
the stored crop and the record's boxes, so a recomputation gives the same class bit for bit.
Rows come out as: random negatives, near-face negatives, then positives/parts.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from samplegen.boxes import best_iou, iof, paired_iou
from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.draws import draw_jitter, draw_sides, face_extent, negative_corners, top_left
from samplegen.mtcnn.labels import NEG, PART, POS, regression_targets
from samplegen.mtcnn.crop_plan import CropPlan, concat_plans, empty_plan, make_plan
from samplegen.record import Record

def record_size(record: Record) -> tuple[int, int]:
    """``(W, H)`` of `record`; planning needs it, so a missing size is a programming error."""
    if record.width is None or record.height is None:
        raise ValueError(f"{record.key}: image size unknown; read it from the image header before planning")
    return int(record.width), int(record.height)


def ignored_as_faces(record: Record) -> Record:
    """`record` with its ignore regions appended to its faces and none left (``invalid_as_faces``).

    The public pipelines read every box of a WIDER line as a face, ``invalid=1`` ones included;
    attributes are dropped (they describe the original boxes only), landmarks are not affected
    (the facial-point source has no ignore regions).
    """
    if record.ignore.shape[0] == 0:
        return record
    return dataclasses.replace(
        record, boxes=np.concatenate([record.boxes, record.ignore]).astype(np.float32),
        labels=np.concatenate([record.labels, record.ignore_labels]).astype(np.int32),
        ignore=np.zeros((0, 4), np.float32), ignore_labels=np.zeros(0, np.int32),
        landmarks=None, attributes={})


def inside_image(crops: np.ndarray, width: int, height: int) -> np.ndarray:
    """bool [K]: the crop lies within ``[0, W] x [0, H]``."""
    return (crops[:, 0] >= 0) & (crops[:, 1] >= 0) & (crops[:, 2] <= width) & (crops[:, 3] <= height)


def touches_ignore(crops: np.ndarray, ignore: np.ndarray, thr: float) -> np.ndarray:
    """bool [K]: the crop's IoF (intersection / crop area) with some ignore region exceeds `thr`."""
    if ignore.shape[0] == 0 or crops.shape[0] == 0:
        return np.zeros(crops.shape[0], bool)
    return (iof(crops, ignore) > np.float32(thr)).any(axis=1)


def seed_faces(boxes: np.ndarray, min_face: float, plus_one: bool = False) -> np.ndarray:
    """int64 indices of boxes usable as seeds: positive size and longer side >= `min_face` (B.2);
    with `plus_one` the side is the references' inclusive ``w + 1`` (gen_12net_data.py:89-97)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    one = np.float32(1) if plus_one else np.float32(0)
    return np.flatnonzero((w > 0) & (h > 0) & (np.maximum(w + one, h + one) >= min_face))


def squares_at(x1: np.ndarray, y1: np.ndarray, side: np.ndarray) -> np.ndarray:
    """float32 [K, 4] squares from integer-valued top-left corners and sides."""
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1).astype(np.float32)


def centered_squares(cx: np.ndarray, cy: np.ndarray, side: np.ndarray) -> np.ndarray:
    """float32 [K, 4] integer squares of integer `side` whose centre is nearest (cx, cy) (half up)."""
    return squares_at(np.floor(cx - side / 2 + 0.5), np.floor(cy - side / 2 + 0.5), side)


def jittered_squares(faces: np.ndarray, attempts: int, cfg: MtcnnConfig,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`attempts` jittered squares around each face (rule 4; the draws of `samplegen.mtcnn.draws`).

    Args:
        faces: float [F, 4] seed faces (positive sizes).
        attempts: squares per face.

    Returns:
        ``(crops, owner)``: float32 [K, 4] and int64 [K] index into `faces`, face-major (all
        attempts of face 0 first); K = F * attempts less the attempts a draw rule skips
        (``randint`` draws on tiny faces). With ``border: clamp_top_left`` a negative top-left
        coordinate is moved to 0 (the crop keeps its side).
    """
    faces = np.asarray(faces, np.float64)
    owner = np.repeat(np.arange(faces.shape[0]), attempts)
    f = faces[owner]
    w, h = face_extent(f, cfg.face_plus_one)
    side, valid = draw_sides(w, h, cfg, rng)
    dx, ok_x = draw_jitter(w, cfg, rng)
    dy, ok_y = draw_jitter(h, cfg, rng)
    x1 = top_left(f[:, 0], f[:, 2], w, dx, side, cfg)
    y1 = top_left(f[:, 1], f[:, 3], h, dy, side, cfg)
    if cfg.border == "clamp_top_left":
        x1, y1 = np.maximum(x1, 0), np.maximum(y1, 0)
    crops = squares_at(x1, y1, side)
    valid &= ok_x & ok_y
    if valid.all():
        return crops, owner
    return crops[valid], owner[valid]


def negative_side_range(width: int, height: int, cfg: MtcnnConfig) -> tuple[int, int]:
    """Inclusive integer side range of negatives; ``lo > hi`` when the image is too small.

    ``neg_draw: randint`` is numpy's ``randint(neg_min_size, frac * min(W, H))``: the float high
    bound truncated and exclusive (gen_12net_data.py:60), one less than the inclusive rule.
    """
    hi = int(np.floor(cfg.neg_max_frac * min(width, height) + 1e-9))
    return cfg.neg_min_size, hi - 1 if cfg.neg_draw == "randint" else hi


def _negative_mask(crops: np.ndarray, record: Record, cfg: MtcnnConfig) -> tuple[np.ndarray, np.ndarray]:
    best, _ = best_iou(crops, record.boxes, cfg.plus_one)
    ok = (best < np.float32(cfg.neg_iou_thr)) & ~touches_ignore(crops, record.ignore, cfg.ignore_iof_thr)
    return ok, best


def random_negatives(record: Record, cfg: MtcnnConfig, rng: np.random.Generator) -> CropPlan:
    """Rule 2: random negatives inside the image, in vectorised rounds, capped attempts.

    Returns `NEG` rows with ``iou`` = their max IoU and ``gt = -1``; fewer than
    ``cfg.neg_per_image`` when the cap is reached or the image is too small (a shortfall, not an
    error).
    """
    width, height = record_size(record)
    lo, hi = negative_side_range(width, height, cfg)
    need, used = cfg.neg_per_image, 0
    found: list[CropPlan] = []
    while need > 0 and lo <= hi and used < cfg.neg_max_attempts:
        # Draw a round twice the shortfall (~3% rejection on WIDER), at least 16 for efficiency.
        n = min(cfg.neg_max_attempts - used, max(2 * need, 16))
        used += n
        side = rng.integers(lo, hi, size=n, endpoint=True)
        crops = squares_at(negative_corners(width, side, cfg, rng), negative_corners(height, side, cfg, rng), side)
        ok, best = _negative_mask(crops, record, cfg)
        take = np.flatnonzero(ok)[:need]
        need -= take.shape[0]
        found.append(make_plan(NEG, crops[take], iou=best[take]))
    return concat_plans(found)


def near_negatives(record: Record, seeds: np.ndarray, cfg: MtcnnConfig,
                   rng: np.random.Generator) -> CropPlan:
    """Rule 3: ``cfg.neg_near_attempts`` negative attempts around each seed face (B.4)."""
    width, height = record_size(record)
    lo, hi = negative_side_range(width, height, cfg)
    n = seeds.shape[0] * cfg.neg_near_attempts
    if n == 0 or lo > hi:
        return empty_plan()
    faces = record.boxes[np.repeat(seeds, cfg.neg_near_attempts)].astype(np.float64)
    side = rng.integers(lo, hi, size=n, endpoint=True).astype(np.float64)
    corners = []
    drop = cfg.near_neg_border == "drop"
    for axis, limit in ((0, width), (1, height)):
        first = np.ceil(faces[:, axis] - side)
        last = np.floor(faces[:, axis + 2])
        if not cfg.pad:
            # drop: the references' randint(max(-size, -x1), w) keeps the corner >= 0 only and
            # drops what then leaves the right/bottom edge (gen_12net_data.py:104-113).
            first, last = np.maximum(first, 0), last if drop else np.minimum(last, limit - side)
        corners.append((first, last))
    valid = (corners[0][0] <= corners[0][1]) & (corners[1][0] <= corners[1][1])
    # Draw for every attempt (fixed rng consumption), then drop the attempts with an empty range.
    x1 = corners[0][0] + np.floor(rng.random(n) * (np.maximum(corners[0][1] - corners[0][0], 0) + 1))
    y1 = corners[1][0] + np.floor(rng.random(n) * (np.maximum(corners[1][1] - corners[1][0], 0) + 1))
    if drop and not cfg.pad:
        valid &= (x1 + side <= width) & (y1 + side <= height)
    crops = squares_at(x1, y1, side)[valid]
    ok, best = _negative_mask(crops, record, cfg)
    return make_plan(NEG, crops[ok], iou=best[ok])


def classify_crops(crops: np.ndarray, best: np.ndarray, idx: np.ndarray, record: Record,
                   cfg: MtcnnConfig, targets: Callable[[np.ndarray, np.ndarray], np.ndarray] = regression_targets
                   ) -> CropPlan:
    """`POS`/`PART` rows for crops whose IoU `best` [K] with face `idx` [K] reaches a band; the
    others are dropped. ``roi`` regresses each crop to ``record.boxes[idx]`` (`targets`: the
    offset convention, `samplegen.mtcnn.labels.regression_targets` unless told)."""
    pos = best >= np.float32(cfg.pos_iou_thr)
    keep = pos | (best >= np.float32(cfg.part_iou_thr))
    cls = np.where(pos, POS, PART)[keep]
    crops, idx, best = crops[keep], idx[keep], best[keep]
    return make_plan(cls, crops, roi=targets(crops, record.boxes[idx]), iou=best, gt=idx)


def positives_and_parts(record: Record, seeds: np.ndarray, cfg: MtcnnConfig,
                        rng: np.random.Generator) -> CropPlan:
    """Rule 4: ``cfg.pos_attempts`` jittered squares per seed face, classified by IoU bands."""
    if seeds.shape[0] == 0 or cfg.pos_attempts == 0:
        return empty_plan()
    width, height = record_size(record)
    crops, owner = jittered_squares(record.boxes[seeds], cfg.pos_attempts, cfg, rng)
    seed_idx = seeds[owner].astype(np.int32)
    if not cfg.pad:
        inside = inside_image(crops, width, height)
        crops, seed_idx = crops[inside], seed_idx[inside]
    if cfg.match_sampled_face:
        best, idx = paired_iou(crops, record.boxes[seed_idx], cfg.plus_one), seed_idx
    else:
        best, idx = best_iou(crops, record.boxes, cfg.plus_one)
    return classify_crops(crops, best, idx, record, cfg)


def plan_faces(record: Record, cfg: MtcnnConfig, rng: np.random.Generator) -> CropPlan:
    """Positive, part and negative crops of one image (module docstring, rules 1-4).

    Args:
        record: the image's annotation; ``width``/``height`` must be known. ``boxes`` are the
            faces, ``ignore`` the regions no negative may overlap.
        cfg: the MTCNN config (sizes, thresholds, attempts, caps, pad).
        rng: the image's generator (`samplegen.rng.rng_for`); the only source of randomness.

    Returns:
        A `CropPlan` of `NEG`, `POS` and `PART` rows (no rotation, no mirror). An image without
        faces gives only random negatives; a face-only-too-small image gives only negatives.
    """
    seeds = seed_faces(record.boxes, cfg.min_face, cfg.face_plus_one)
    plans = [random_negatives(record, cfg, rng), near_negatives(record, seeds, cfg, rng),
             positives_and_parts(record, seeds, cfg, rng)]
    return concat_plans(plans)
