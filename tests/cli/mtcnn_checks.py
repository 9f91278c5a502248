"""Independent verification of `samplegen mtcnn` output samples against the source annotation and
pixels (issue 3 "Done when"). Used by tests/cli/test_mtcnn_cmd.py and tests/test_outputs.py."""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from samplegen.datasets import read_dataset
from tests.cli.helpers import expected_crop, iou_np, rotate_matrix

POS, NEG, PART, LANDMARK = 1, 0, -1, -2
NAMES = {POS: "pos", NEG: "neg", PART: "part", LANDMARK: "landmark"}
MIRROR_ORDER = [1, 0, 2, 4, 3]      # left eye <-> right eye, mouth corners swap, nose stays


@dataclass(frozen=True)
class Conventions:
    """The sampling conventions a run's samples follow (defaults: samplegen's own, D.1), read off
    its manifest's configuration (`of`) so the checks follow ``--compat`` presets too."""

    plus_one: bool = False
    match_sampled_face: bool = False
    cut_plus_one: bool = False
    rotate_about: str = "face"
    filter_inside: bool = True
    invalid_as_faces: bool = False
    iou_thr: float = 0.65

    @classmethod
    def of(cls, manifest: dict) -> "Conventions":
        c = manifest["config"]
        lm = c["landmark"]
        return cls(c["plus_one"], c["match_sampled_face"], lm["cut_plus_one"], lm["rotate_about"],
                   lm["filter_inside"], c["invalid_as_faces"], lm["iou_thr"])


def iou_plus_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The references' discrete IoU ((w+1)(h+1) areas), float32, in samplegen.boxes' operation
    order (so a stored value compares exactly)."""
    box = np.asarray(box, np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    one = np.float32(1)
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]) + one
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]) + one
    inter = np.maximum(w, np.float32(0)) * np.maximum(h, np.float32(0))
    area1 = (box[2] - box[0] + one) * (box[3] - box[1] + one)
    area2 = (boxes[:, 2] - boxes[:, 0] + one) * (boxes[:, 3] - boxes[:, 1] + one)
    return inter / np.maximum(area1 + area2 - inter, np.float32(1e-6))


class Sources:
    """The annotation records (read with the same readers) and decoded images of a run; with
    `invalid_as_faces`, the faces' ignore regions are faces too (appended, as the run does)."""

    def __init__(self, faces: tuple[Path, str, Path] | None, marks: tuple[Path, str, Path] | None,
                 invalid_as_faces: bool = False):
        self.records = {"faces": {}, "landmarks": {}}
        self.roots = {}
        for role, spec in (("faces", faces), ("landmarks", marks)):
            if spec is None:
                continue
            path, fmt, root = spec
            self.roots[role] = Path(root)
            for r in read_dataset(fmt, path, root).records:
                if role == "faces" and invalid_as_faces and r.ignore.shape[0]:
                    r = dataclasses.replace(r, boxes=np.concatenate([r.boxes, r.ignore]).astype(np.float32),
                                            ignore=np.zeros((0, 4), np.float32))
                self.records[role][r.image] = r
        self._pixels: dict = {}

    def record(self, role: str, image: str):
        return self.records[role][image]

    def pixels(self, role: str, image: str) -> np.ndarray:
        key = (role, image)
        if key not in self._pixels:
            path = self.roots[role] / image.replace("\\", "/")
            if not path.suffix:
                path = path.with_suffix(".jpg")
            img = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            assert img is not None, path
            self._pixels[key] = img
        return self._pixels[key]


def unmirror_landmarks(lm: np.ndarray) -> np.ndarray:
    pts = lm.reshape(5, 2).astype(np.float64).copy()
    pts[:, 0] = 1.0 - pts[:, 0]
    return pts[MIRROR_ORDER]


def unmirror_roi(roi: np.ndarray) -> np.ndarray:
    # mirrored (ox1, oy1, ox2, oy2) -> (-ox2, oy1, -ox1, oy2) is its own inverse
    return np.array([-roi[2], roi[1], -roi[0], roi[3]], np.float64)


def check_sample(s: dict, size: int, src: Sources, thresholds=(0.65, 0.4, 0.3), pixels: bool = True,
                 pad: bool = False, conv: Conventions | None = None) -> None:
    """Assert everything issue 3 promises about one sample (packed / wds sample with all fields),
    under the run's sampling `conv` (samplegen's own by default)."""
    conv = conv or Conventions()
    pos_thr, part_thr, neg_thr = (np.float32(t) for t in thresholds)
    iou = iou_plus_one if conv.plus_one else iou_np
    cls = int(s["cls"])
    crop = np.asarray(s["crop"], np.float32)
    x1, y1, x2, y2 = (float(v) for v in crop)
    side, side_y = x2 - x1, y2 - y1
    where = f"{s.get('source')} cls={cls} crop={crop.tolist()}"
    role = "landmarks" if cls == LANDMARK else "faces"
    rec = src.record(role, s["source"])
    face_box = cls == LANDMARK and not s["angle"] and tuple(crop) == tuple(rec.boxes[int(s["gt"])])
    assert side >= 1 and (side_y == side or face_box), f"not a square: {where}"
    assert all(float(v).is_integer() for v in crop), f"crop not integer: {where}"
    angle, mirror = float(s["angle"]), bool(s["mirror"])
    roi = np.asarray(s["roi"], np.float64)
    lm = np.asarray(s["landmark"], np.float32)
    image = np.asarray(s["image"])
    assert image.shape == (size, size, 3) and image.dtype == np.uint8
    inside = 0 <= x1 and 0 <= y1 and x2 <= rec.width and y2 <= rec.height
    assert inside or pad, f"crop leaves the image: {where}"
    sides = np.array([side, side_y])
    center = None
    if cls != LANDMARK:
        assert angle == 0.0 and not mirror, where
        ious = iou(crop, rec.boxes)
        best = np.float32(ious.max()) if ious.size else np.float32(0)
        if cls in (POS, PART) and conv.match_sampled_face:
            best = np.float32(ious[int(s["gt"])])   # the seed face only, as the references test
        assert np.float32(s["iou"]) == best, f"stored iou {s['iou']} != recomputed {best}: {where}"
        if cls == POS:
            assert best >= pos_thr, f"pos with IoU {best}: {where}"
        elif cls == PART:
            assert part_thr <= best < pos_thr, f"part with IoU {best}: {where}"
        else:
            assert best < neg_thr, f"neg with IoU {best}: {where}"
            assert int(s["gt"]) == -1 and not roi.any() and not lm.any(), where
            if rec.ignore.shape[0]:
                inter = iou_np(crop, rec.ignore)  # IoU > 0 <=> intersection > 0
                assert not (inter > 0).any(), f"negative overlaps an ignore region: {where}"
        if cls in (POS, PART):
            gt = int(s["gt"])
            if not conv.match_sampled_face:
                assert gt == int(np.argmax(ious)), where
            face = rec.boxes[gt].astype(np.float64)
            np.testing.assert_allclose(crop[:2] + roi[:2] * side, face[:2], rtol=0, atol=1e-4, err_msg=where)
            np.testing.assert_allclose(crop[2:] + roi[2:] * side, face[2:], rtol=0, atol=1e-4, err_msg=where)
            assert not lm.any(), where
    else:
        gt = int(s["gt"])
        face = rec.boxes[gt]
        paired = iou(crop, face[None])[0]
        assert paired > np.float32(conv.iou_thr), f"landmark base crop IoU {paired}: {where}"
        assert np.float32(s["iou"]) == paired, where
        if conv.filter_inside:
            assert ((lm > 0) & (lm < 1)).all(), f"landmark outside (0, 1): {lm}: {where}"
        points = rec.landmarks[gt].astype(np.float64)
        got = unmirror_landmarks(lm) if mirror else lm.reshape(5, 2).astype(np.float64)
        if angle:
            if conv.rotate_about == "crop":
                e = 1.0 if conv.cut_plus_one else 0.0
                center = tuple(float(np.float32((float(crop[i]) + float(crop[i + 2]) + e) / 2)) for i in (0, 1))
            else:
                center = tuple(float(np.float32((float(face[i]) + float(face[i + 2])) / 2)) for i in (0, 1))
            m = rotate_matrix(center, angle)
            points = points @ m[:, :2].T + m[:, 2]
            assert not roi.any(), f"rotated sample with a roi: {where}"
        else:
            unroi = unmirror_roi(roi) if mirror else roi
            f64 = face.astype(np.float64)
            np.testing.assert_allclose(crop[:2] + unroi[:2] * sides, f64[:2], rtol=0, atol=1e-4, err_msg=where)
            np.testing.assert_allclose(crop[2:] + unroi[2:] * sides, f64[2:], rtol=0, atol=1e-4, err_msg=where)
        np.testing.assert_allclose(crop[None, :2] + got * sides, points, rtol=0, atol=1e-3 if angle else 1e-4,
                                   err_msg=f"landmarks do not map back: {where}")
    if pixels:
        src_img = src.pixels(role, s["source"])
        if cls == LANDMARK and conv.cut_plus_one and inside:
            want = expected_crop(src_img, crop, size, mirror, angle, center, plus_one=True)
        else:
            want = expected_crop(src_img, crop, size, mirror, angle, center, pad=not inside)
        # rotated rows too: a full-frame warpAffine about the rotation centre, then the same crop
        assert np.array_equal(want, image), f"pixels differ from a recomputed crop+resize: {where}"


def class_counts(samples) -> Counter:
    return Counter(NAMES[int(s["cls"])] for s in samples)


def assert_ratio(counts: Counter | dict, ratio: tuple[int, int, int, int]) -> int:
    """Counts exactly ratio * unit with unit >= 1; returns unit."""
    names = ("pos", "neg", "part", "landmark")
    shares = {n: r for n, r in zip(names, ratio) if r}
    unit = counts.get(next(iter(shares)), 0) // next(iter(shares.values()))
    assert unit >= 1, counts
    for n, r in zip(names, ratio):
        assert counts.get(n, 0) == r * unit, f"{dict(counts)} not {ratio} x {unit}"
    return unit
