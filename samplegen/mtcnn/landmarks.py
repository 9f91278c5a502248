"""Landmark sample geometry: shifted, mirrored and rotated crops of faces with 5 points (B.5).

Per face of a record with ``landmarks`` (issue 3, reference-semantics B.5, D.1):

1. Skip faces whose longer side is below ``cfg.landmark.min_face``.
2. Base crops: the centre sample (``center_sample``): the face-centred square of side
   ``round(max(w, h))`` (``center_shape: square``) or the face box itself (``face_box``, the
   references' GT sample, not square); and ``cfg.landmark.attempts`` jittered squares drawn like
   positives (`propose.jittered_squares`); a base crop is kept when it lies inside the image
   (unless ``cfg.pad``) and its IoU with *its* face is strictly greater than
   ``cfg.landmark.iou_thr``.
3. Augmentation, three independent draws per kept base crop (the centre sample only with
   ``augment_center``): with ``mirror_prob`` add its mirror; for each angle in ``angles``, with
   ``rotate_prob`` add the crop rotated by that angle about the face centre (``rotate_about:
   crop``: the centre of the pixels cut) and, with ``mirror_rotated``, its mirror too.
4. Points are normalised to the crop, ``((x - x1) / w, (y - y1) / h)`` (``w == h`` = side for
   squares); a rotated sample first pushes them through the rotation; a mirrored one applies
   ``x -> 1 - x`` with the 0<->1 / 3<->4 swap (`labels.mirror_landmarks`). Samples with any
   value outside the open interval (0, 1) are dropped (unless not ``filter_inside``).

Rotation (OpenCV convention, positive = counter-clockwise on screen): a source point ``p`` goes
to ``A p + t`` with `rotation_matrix`, in continuous pixel coordinates (pixel ``i`` spans
``[i, i+1)``). The crop box of a rotated sample is the same box, read in the rotated frame, as in
the reference ("rotate the image, crop the same box"). `cut.cut_crops` applies exactly this map.

Rows come out grouped by variant: base, mirror, then per angle rotated and rotated-mirror.
"""
from __future__ import annotations

import numpy as np

from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.labels import LANDMARK, mirror_landmarks, mirror_roi, regression_targets
from samplegen.mtcnn.crop_plan import CropPlan, empty_plan, make_plan
from samplegen.boxes import paired_iou
from samplegen.mtcnn.propose import centered_squares, record_size, inside_image, jittered_squares
from samplegen.record import Record


def rotation_matrix(center: np.ndarray, angle: float) -> np.ndarray:
    """float64 [2, 3] rotation by `angle` degrees about `center` (x, y), as cv2.getRotationMatrix2D.

    ``[[a, b, (1 - a) cx - b cy], [-b, a, b cx + (1 - a) cy]]`` with ``a = cos``, ``b = sin``.
    Apply it to continuous coordinates; `cut` converts it to OpenCV's pixel-centre coordinates.
    """
    a, b = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    cx, cy = float(center[0]), float(center[1])
    return np.array([[a, b, (1 - a) * cx - b * cy], [-b, a, b * cx + (1 - a) * cy]], np.float64)


def rotate_points(points: np.ndarray, centers: np.ndarray, angle: float) -> np.ndarray:
    """Points float [K, P, 2] rotated by `angle` degrees about per-row `centers` float [K, 2]."""
    a, b = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    d = np.asarray(points, np.float64) - np.asarray(centers, np.float64)[:, None, :]
    x = a * d[..., 0] + b * d[..., 1]
    y = -b * d[..., 0] + a * d[..., 1]
    return np.stack([x, y], axis=-1) + np.asarray(centers, np.float64)[:, None, :]


def normalise_points(points: np.ndarray, crops: np.ndarray) -> np.ndarray:
    """Points float [K, 5, 2] in source pixels -> float32 [K, 5, 2] relative to crops [K, 4]
    (x by the crop's width, y by its height: the same side for square crops)."""
    crops = np.asarray(crops, np.float64)
    sides = np.stack([crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]], 1)[:, None, :]
    return ((np.asarray(points, np.float64) - crops[:, None, :2]) / sides).astype(np.float32)


def _base_crops(record: Record, cfg: MtcnnConfig,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rule 2: base crops float32 [K, 4], their face index int32 [K] and bool [K] "is the centre
    sample", before the IoU test."""
    lm = cfg.landmark
    boxes = record.boxes
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    one = np.float32(1) if cfg.face_plus_one else np.float32(0)
    seeds = np.flatnonzero((w > 0) & (h > 0) & (np.maximum(w + one, h + one) >= lm.min_face))
    crops, owners, centre = [], [], []
    if lm.center_sample and seeds.shape[0]:
        f = boxes[seeds].astype(np.float64)
        if lm.center_shape == "face_box":
            crops.append(boxes[seeds].astype(np.float32))
        else:
            side = np.maximum(1.0, np.floor(np.maximum(w[seeds], h[seeds]).astype(np.float64) + 0.5))
            crops.append(centered_squares((f[:, 0] + f[:, 2]) / 2, (f[:, 1] + f[:, 3]) / 2, side))
        owners.append(seeds)
        centre.append(np.ones(seeds.shape[0], bool))
    if lm.attempts and seeds.shape[0]:
        shifted, owner = jittered_squares(boxes[seeds], lm.attempts, cfg, rng)
        crops.append(shifted)
        owners.append(seeds[owner])
        centre.append(np.zeros(owner.shape[0], bool))
    if not crops:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.int32), np.zeros(0, bool)
    return np.concatenate(crops), np.concatenate(owners).astype(np.int32), np.concatenate(centre)


def rotation_centers(crops: np.ndarray, faces: np.ndarray, cfg: MtcnnConfig) -> np.ndarray:
    """float64 [K, 2] rotation centres, float32-rounded (the plan stores float32): the face
    centre (``rotate_about: face``) or the centre of the pixels cut (``crop``: the reference
    rotates about its crop box, Landmark_utils.rotate, and cuts ``side + 1`` pixels with
    ``cut_plus_one``)."""
    if cfg.landmark.rotate_about == "crop":
        extra = 1.0 if cfg.landmark.cut_plus_one else 0.0
        boxes = np.asarray(crops, np.float64)
        centers = np.stack([(boxes[:, 0] + boxes[:, 2] + extra) / 2, (boxes[:, 1] + boxes[:, 3] + extra) / 2], 1)
    else:
        centers = np.stack([(faces[:, 0] + faces[:, 2]) / 2, (faces[:, 1] + faces[:, 3]) / 2], 1)
    return centers.astype(np.float32).astype(np.float64)


def _variant(base: CropPlan, rows: np.ndarray, points: np.ndarray, angle: float,
             mirror: bool, centers: np.ndarray) -> dict[str, np.ndarray]:
    """The `rows` of `base` as one augmentation variant: its plan fields, with points [K, 5, 2]
    in the frame of the crops and rotation `centers` [K, 2] (fields only: the variants of an
    image become one plan at once, which keeps planning cheap). Landmarks are float32 already,
    as stored, because the caller tests them against (0, 1)."""
    crops = base.crop[rows]
    norm = normalise_points(points, crops)
    roi = base.roi[rows]
    if mirror:
        norm, roi = mirror_landmarks(norm), mirror_roi(roi)
    if angle != 0.0:
        # A rotated crop has no axis-aligned face box to regress to: roi stays undefined.
        roi = np.zeros_like(roi)
    k = crops.shape[0]
    return {"crop": crops, "roi": roi, "landmark": norm.reshape(-1, 10).astype(np.float32),
            "angle": np.full(k, angle), "mirror": np.full(k, mirror), "iou": base.iou[rows],
            "gt": base.gt[rows], "center": centers if angle != 0.0 else np.zeros((k, 2))}


def plan_landmarks(record: Record, cfg: MtcnnConfig, rng: np.random.Generator) -> CropPlan:
    """Landmark samples of one image (module docstring, rules 1-4).

    Args:
        record: an image of the landmark source; ``landmarks`` float32 [N, 5, 2] in source pixels
            (None gives an empty plan); ``width``/``height`` must be known.
        cfg: the MTCNN config (`cfg.landmark`, plus `size_range`, `jitter`, `plus_one`, `pad`).
        rng: the image's generator.

    Returns:
        `LANDMARK` rows: ``landmark`` normalised (all values in (0, 1)), ``gt`` the face,
        ``iou`` the base crop's IoU with it, ``roi`` its regression target (zeros when rotated),
        ``angle``/``center``/``mirror`` describing the augmentation.
    """
    if record.landmarks is None or record.boxes.shape[0] == 0:
        return empty_plan()
    width, height = record_size(record)
    lm = cfg.landmark
    crops, owner, centre = _base_crops(record, cfg, rng)
    keep = np.ones(crops.shape[0], bool) if cfg.pad else inside_image(crops, width, height)
    overlap = paired_iou(crops, record.boxes[owner], cfg.plus_one)
    keep &= overlap > np.float32(lm.iou_thr)
    crops, owner, overlap, centre = crops[keep], owner[keep], overlap[keep], centre[keep]
    base = make_plan(LANDMARK, crops, roi=regression_targets(crops, record.boxes[owner]),
                     iou=overlap, gt=owner)
    # One row of draws per kept crop: column 0 mirror, then one column per angle (fixed order).
    draws = rng.random((crops.shape[0], 1 + len(lm.angles)))
    augmented = np.ones(crops.shape[0], bool) if lm.augment_center else ~centre
    points = record.landmarks[owner].astype(np.float64)
    faces = record.boxes[owner].astype(np.float64)
    # Rotate about the float32 centre that the plan stores, so `cut` and any consumer that
    # inverts the rotation from `plan.center` use exactly the same map.
    centers = rotation_centers(crops, faces, cfg)
    every = np.ones(crops.shape[0], bool)
    variants = [_variant(base, every, points, 0.0, False, centers)]
    mirrored = (draws[:, 0] < lm.mirror_prob) & augmented
    variants.append(_variant(base, mirrored, points[mirrored], 0.0, True, centers[mirrored]))
    for j, angle in enumerate(lm.angles):
        rows = (draws[:, 1 + j] < lm.rotate_prob) & augmented
        rotated = rotate_points(points[rows], centers[rows], angle)
        for flip in (False, True) if lm.mirror_rotated else (False,):
            variants.append(_variant(base, rows, rotated, angle, flip, centers[rows]))
    fields = {name: np.concatenate([v[name] for v in variants]) for name in variants[0]}
    if not lm.filter_inside:
        return make_plan(LANDMARK, **fields)
    inside = ((fields["landmark"] > 0) & (fields["landmark"] < 1)).all(axis=1)
    return make_plan(LANDMARK, **{name: value[inside] for name, value in fields.items()})
