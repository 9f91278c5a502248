"""Independent verification of `samplegen mtcnn` output samples against the source annotation and
pixels (issue 3 "Done when"). Used by tests/cli/test_mtcnn_cmd.py and tests/test_outputs.py."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from samplegen.datasets import read_dataset
from tests.cli.helpers import expected_crop, iou_np, rotate_matrix

POS, NEG, PART, LANDMARK = 1, 0, -1, -2
NAMES = {POS: "pos", NEG: "neg", PART: "part", LANDMARK: "landmark"}
MIRROR_ORDER = [1, 0, 2, 4, 3]      # left eye <-> right eye, mouth corners swap, nose stays


class Sources:
    """The annotation records (read with the same readers) and decoded images of a run."""

    def __init__(self, faces: tuple[Path, str, Path] | None, marks: tuple[Path, str, Path] | None):
        self.records = {"faces": {}, "landmarks": {}}
        self.roots = {}
        for role, spec in (("faces", faces), ("landmarks", marks)):
            if spec is None:
                continue
            path, fmt, root = spec
            self.roots[role] = Path(root)
            for r in read_dataset(fmt, path, root).records:
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
                 pad: bool = False) -> None:
    """Assert everything issue 3 promises about one sample (packed / wds sample with all fields)."""
    pos_thr, part_thr, neg_thr = (np.float32(t) for t in thresholds)
    cls = int(s["cls"])
    crop = np.asarray(s["crop"], np.float32)
    x1, y1, x2, y2 = (float(v) for v in crop)
    side = x2 - x1
    where = f"{s.get('source')} cls={cls} crop={crop.tolist()}"
    assert side >= 1 and y2 - y1 == side, f"not a square: {where}"
    assert all(float(v).is_integer() for v in crop), f"crop not integer: {where}"
    angle, mirror = float(s["angle"]), bool(s["mirror"])
    roi = np.asarray(s["roi"], np.float64)
    lm = np.asarray(s["landmark"], np.float32)
    image = np.asarray(s["image"])
    assert image.shape == (size, size, 3) and image.dtype == np.uint8
    role = "landmarks" if cls == LANDMARK else "faces"
    rec = src.record(role, s["source"])
    inside = 0 <= x1 and 0 <= y1 and x2 <= rec.width and y2 <= rec.height
    assert inside or pad, f"crop leaves the image: {where}"
    center = None
    if cls != LANDMARK:
        assert angle == 0.0 and not mirror, where
        ious = iou_np(crop, rec.boxes)
        best = np.float32(ious.max()) if ious.size else np.float32(0)
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
            assert gt == int(np.argmax(ious)), where
            face = rec.boxes[gt].astype(np.float64)
            np.testing.assert_allclose(crop[:2] + roi[:2] * side, face[:2], rtol=0, atol=1e-4, err_msg=where)
            np.testing.assert_allclose(crop[2:] + roi[2:] * side, face[2:], rtol=0, atol=1e-4, err_msg=where)
            assert not lm.any(), where
    else:
        gt = int(s["gt"])
        face = rec.boxes[gt]
        paired = iou_np(crop, face[None])[0]
        assert paired > np.float32(0.65), f"landmark base crop IoU {paired}: {where}"
        assert np.float32(s["iou"]) == paired, where
        assert ((lm > 0) & (lm < 1)).all(), f"landmark outside (0, 1): {lm}: {where}"
        points = rec.landmarks[gt].astype(np.float64)
        got = unmirror_landmarks(lm) if mirror else lm.reshape(5, 2).astype(np.float64)
        if angle:
            center = tuple(float(np.float32((float(face[i]) + float(face[i + 2])) / 2)) for i in (0, 1))
            m = rotate_matrix(center, angle)
            points = points @ m[:, :2].T + m[:, 2]
            assert not roi.any(), f"rotated sample with a roi: {where}"
        else:
            unroi = unmirror_roi(roi) if mirror else roi
            f64 = face.astype(np.float64)
            np.testing.assert_allclose(crop[:2] + unroi[:2] * side, f64[:2], rtol=0, atol=1e-4, err_msg=where)
            np.testing.assert_allclose(crop[2:] + unroi[2:] * side, f64[2:], rtol=0, atol=1e-4, err_msg=where)
        np.testing.assert_allclose(crop[None, :2] + got * side, points, rtol=0, atol=1e-3 if angle else 1e-4,
                                   err_msg=f"landmarks do not map back: {where}")
    if pixels:
        src_img = src.pixels(role, s["source"])
        want = expected_crop(src_img, crop, size, mirror, angle, center, pad=not inside)
        # rotated rows too: a full-frame warpAffine about the face centre, then the same crop
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
