"""The classic MTCNN data generator, as our users run it today: the benchmark's baseline.

A faithful single-process re-implementation of the public generators' procedure
(AITTSMD/MTCNN-Tensorflow ``gen_12net_data.py`` + ``gen_landmark_aug_12.py``, described in
``../shared/docs/reference-semantics.md`` B.3, B.4, B.5, B.8), kept deliberately in their style
because *their* cost is what is measured:

* per WIDER image: ``cv2.imread``; 50 random negatives (loop until accepted); then per face
  (skipped when ``max(w, h) < 20`` or ``x1 < 0`` or ``y1 < 0``, +1 widths) 5 near-face negative
  attempts and 20 positive/part attempts; every crop is cut and resized **before** its IoU test
  (discrete "+1" IoU), and every kept crop is one ``cv2.imwrite`` JPEG into
  ``positive/ part/ negative/`` plus one list line (offsets ``%.2f``);
* per facial-point face: the GT crop, 10 shifted crops kept at IoU > 0.65, each augmented by a
  mirror and +-5 degree rotations (whole image warped, each with p = 0.5, rotated ones also
  mirrored), only samples with all landmarks strictly inside (0, 1) kept; one ``cv2.imwrite``
  per sample into ``landmark/``.

The sampling counts are the ones samplegen's presets use (50 / 5 / 20 / 10, min face 20 / 40),
so both tools propose the same amount of work per image. Randomness is numpy's legacy global
generator, as in the references, but seeded so two runs write the same files. The one
deviation: the random-negative loop is capped (tfmtcnn's 5000 x the quota) so a pathological
image cannot hang the benchmark; on WIDER-shaped data the cap is never reached.

    python scripts/classic_mtcnn.py --wider WIDER.txt --wider-images DIR \
        --landmarks trainImageList.txt --landmark-images DIR --out OUT [--size 12]

Prints one JSON line with the counts and the time.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import cv2
import numpy as np
import numpy.random as npr

NEG_PER_IMAGE = 50
NEAR_NEG_ATTEMPTS = 5
POS_ATTEMPTS = 20
MIN_FACE = 20
LANDMARK_MIN_FACE = 40
LANDMARK_ATTEMPTS = 10
NEG_ATTEMPT_CAP = 5000  # x NEG_PER_IMAGE (tfmtcnn); the references loop forever


def iou_plus_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The references' ``IoU(box, boxes)``: discrete areas ``(x2 - x1 + 1) (y2 - y1 + 1)``."""
    box_area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    xx1 = np.maximum(box[0], boxes[:, 0])
    yy1 = np.maximum(box[1], boxes[:, 1])
    xx2 = np.minimum(box[2], boxes[:, 2])
    yy2 = np.minimum(box[3], boxes[:, 3])
    w = np.maximum(0, xx2 - xx1 + 1)
    h = np.maximum(0, yy2 - yy1 + 1)
    inter = w * h
    return inter / (box_area + area - inter)


def read_wider(path: str) -> list[tuple[str, np.ndarray]]:
    """``(image path, boxes [K, 4] x1 y1 x2 y2)`` per block of an official-layout WIDER file."""
    lines = open(path).read().splitlines()
    out, i = [], 0
    while i < len(lines):
        name, count = lines[i].strip(), int(lines[i + 1])
        rows = [[float(v) for v in ln.split()[:4]] for ln in lines[i + 2:i + 2 + count]]
        boxes = np.array(rows, np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        out.append((name, boxes))
        i += 2 + max(count, 1)
    return out


class Writer:
    """Class folders and list files, as ``gen_12net_data.py`` lays them out (B.8)."""

    def __init__(self, out: str, size: int) -> None:
        self.out, self.size = out, size
        self.dirs = {c: os.path.join(out, str(size), c) for c in ("positive", "negative", "part", "landmark")}
        for d in self.dirs.values():
            os.makedirs(d, exist_ok=True)
        self.lists = {c: open(os.path.join(out, f"{name}_{size}.txt"), "w")
                      for c, name in (("positive", "pos"), ("negative", "neg"), ("part", "part"),
                                      ("landmark", "landmark"))}
        self.counts = dict.fromkeys(self.dirs, 0)

    def save(self, cls: str, image: np.ndarray, fields: str) -> None:
        n = self.counts[cls]
        path = os.path.join(self.dirs[cls], f"{n}.jpg")
        cv2.imwrite(path, image)
        self.lists[cls].write(f"{self.size}/{cls}/{n}.jpg {fields}\n")
        self.counts[cls] = n + 1

    def close(self) -> None:
        for f in self.lists.values():
            f.close()


def faces_of_image(img: np.ndarray, boxes: np.ndarray, size: int, w: Writer) -> None:
    """B.4 random negatives, then per face B.4 near negatives and B.3 positives / parts."""
    height, width = img.shape[:2]
    neg_num = attempts = 0
    while neg_num < NEG_PER_IMAGE and attempts < NEG_ATTEMPT_CAP * NEG_PER_IMAGE:
        attempts += 1
        crop = npr.randint(12, min(width, height) / 2)
        nx = npr.randint(0, width - crop)
        ny = npr.randint(0, height - crop)
        crop_box = np.array([nx, ny, nx + crop, ny + crop])
        cropped = img[ny:ny + crop, nx:nx + crop, :]
        resized = cv2.resize(cropped, (size, size), interpolation=cv2.INTER_LINEAR)
        if len(boxes) == 0 or np.max(iou_plus_one(crop_box, boxes)) < 0.3:
            w.save("negative", resized, "0")
            neg_num += 1
    for box in boxes:
        x1, y1, x2, y2 = box
        bw, bh = x2 - x1 + 1, y2 - y1 + 1
        if max(bw, bh) < MIN_FACE or x1 < 0 or y1 < 0:
            continue
        for _ in range(NEAR_NEG_ATTEMPTS):
            crop = npr.randint(12, min(width, height) / 2)
            delta_x = npr.randint(max(-crop, -x1), bw)
            delta_y = npr.randint(max(-crop, -y1), bh)
            nx1 = int(max(0, x1 + delta_x))
            ny1 = int(max(0, y1 + delta_y))
            if nx1 + crop > width or ny1 + crop > height:
                continue
            crop_box = np.array([nx1, ny1, nx1 + crop, ny1 + crop])
            cropped = img[ny1:ny1 + crop, nx1:nx1 + crop, :]
            resized = cv2.resize(cropped, (size, size), interpolation=cv2.INTER_LINEAR)
            if np.max(iou_plus_one(crop_box, boxes)) < 0.3:
                w.save("negative", resized, "0")
        for _ in range(POS_ATTEMPTS):
            crop = npr.randint(int(min(bw, bh) * 0.8), np.ceil(1.25 * max(bw, bh)))
            if bw < 5:
                continue
            delta_x = npr.randint(-bw * 0.2, bw * 0.2)
            delta_y = npr.randint(-bh * 0.2, bh * 0.2)
            nx1 = int(max(x1 + bw / 2 + delta_x - crop / 2, 0))
            ny1 = int(max(y1 + bh / 2 + delta_y - crop / 2, 0))
            nx2, ny2 = nx1 + crop, ny1 + crop
            if nx2 > width or ny2 > height:
                continue
            crop_box = np.array([nx1, ny1, nx2, ny2])
            offsets = ((x1 - nx1) / float(crop), (y1 - ny1) / float(crop),
                       (x2 - nx2) / float(crop), (y2 - ny2) / float(crop))
            cropped = img[ny1:ny2, nx1:nx2, :]
            resized = cv2.resize(cropped, (size, size), interpolation=cv2.INTER_LINEAR)
            overlap = iou_plus_one(crop_box, box.reshape(1, -1))[0]   # this GT only (B.3 step 8)
            fields = "%.2f %.2f %.2f %.2f" % offsets
            if overlap >= 0.65:
                w.save("positive", resized, "1 " + fields)
            elif overlap >= 0.4:
                w.save("part", resized, "-1 " + fields)


def rotate(img: np.ndarray, box: tuple[int, int, int, int], landmark: np.ndarray, alpha: float):
    """gen_landmark_aug's ``rotate``: warp the whole image about the box centre, crop the box."""
    x1, y1, x2, y2 = box
    center = ((x1 + x2) / 2, (y1 + y2) / 2)
    rot_mat = cv2.getRotationMatrix2D(center, alpha, 1)
    rotated = cv2.warpAffine(img, rot_mat, (img.shape[1], img.shape[0]))
    landmark_ = np.asarray([(rot_mat[0][0] * x + rot_mat[0][1] * y + rot_mat[0][2],
                             rot_mat[1][0] * x + rot_mat[1][1] * y + rot_mat[1][2]) for (x, y) in landmark])
    return rotated[y1:y2 + 1, x1:x2 + 1], landmark_


def flip(face: np.ndarray, landmark: np.ndarray):
    """Mirror a face and its normalised landmarks, swapping eyes and mouth corners."""
    face_ = cv2.flip(face, 1)
    landmark_ = np.asarray([(1 - x, y) for (x, y) in landmark])
    landmark_[[0, 1]] = landmark_[[1, 0]]
    landmark_[[3, 4]] = landmark_[[4, 3]]
    return face_, landmark_


def landmarks_of_face(img: np.ndarray, box: tuple[int, int, int, int], points: np.ndarray, size: int,
                      w: Writer) -> None:
    """B.5: GT sample, 10 shifted crops at IoU > 0.65, mirror / +-5 degree augmentation, filter."""
    x1, y1, x2, y2 = box
    faces, marks = [], []
    gt_box = np.array([x1, y1, x2, y2])
    face = cv2.resize(img[y1:y2 + 1, x1:x2 + 1], (size, size))
    faces.append(face)
    marks.append(((points - [x1, y1]) / [x2 - x1, y2 - y1]).reshape(10))
    bw, bh = x2 - x1 + 1, y2 - y1 + 1
    if max(bw, bh) < LANDMARK_MIN_FACE or x1 < 0 or y1 < 0:
        return
    height, width = img.shape[:2]
    for _ in range(LANDMARK_ATTEMPTS):
        bbox_size = npr.randint(int(min(bw, bh) * 0.8), np.ceil(1.25 * max(bw, bh)))
        delta_x = npr.randint(-bw * 0.2, bw * 0.2)
        delta_y = npr.randint(-bh * 0.2, bh * 0.2)
        nx1 = int(max(x1 + bw / 2 - bbox_size / 2 + delta_x, 0))
        ny1 = int(max(y1 + bh / 2 - bbox_size / 2 + delta_y, 0))
        nx2, ny2 = nx1 + bbox_size, ny1 + bbox_size
        if nx2 > width or ny2 > height:
            continue
        crop_box = np.array([nx1, ny1, nx2, ny2])
        resized = cv2.resize(img[ny1:ny2 + 1, nx1:nx2 + 1, :], (size, size))
        if iou_plus_one(crop_box, gt_box.reshape(1, -1))[0] <= 0.65:
            continue
        norm = (points - [nx1, ny1]) / bbox_size
        faces.append(resized)
        marks.append(norm.reshape(10))
        if npr.choice([0, 1]) > 0:
            f, lm = flip(resized, norm)
            faces.append(f)
            marks.append(lm.reshape(10))
        for alpha in (5, -5):
            if npr.choice([0, 1]) > 0:
                rotated, lm = rotate(img, (nx1, ny1, nx2, ny2), points, alpha)
                lm = (lm - [nx1, ny1]) / bbox_size
                rotated = cv2.resize(rotated, (size, size))
                faces.append(rotated)
                marks.append(lm.reshape(10))
                f, lm_flipped = flip(rotated, lm)
                faces.append(f)
                marks.append(lm_flipped.reshape(10))
    for face, mark in zip(faces, marks):
        if np.sum(np.where(mark <= 0, 1, 0)) > 0 or np.sum(np.where(mark >= 1, 1, 0)) > 0:
            continue
        w.save("landmark", face, "-2 " + " ".join(str(v) for v in mark))


def read_facepoints(path: str) -> list[tuple[str, tuple[int, int, int, int], np.ndarray]]:
    """``(image, (x1, y1, x2, y2), points [5, 2])`` per line of a facial-point list."""
    out = []
    for line in open(path, newline=None):
        f = line.split()
        if not f:
            continue
        x1, x2, y1, y2 = (int(v) for v in f[1:5])            # note the x1 x2 y1 y2 order (A.6)
        out.append((f[0].replace("\\", "/"), (x1, y1, x2, y2), np.array(f[5:15], float).reshape(5, 2)))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wider", required=True)
    parser.add_argument("--wider-images", required=True)
    parser.add_argument("--landmarks")
    parser.add_argument("--landmark-images")
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    npr.seed(args.seed)
    w = Writer(args.out, args.size)
    images = 0
    for name, boxes in read_wider(args.wider):
        img = cv2.imread(os.path.join(args.wider_images, name))
        if img is None:
            continue
        images += 1
        faces_of_image(img, boxes, args.size, w)
    if args.landmarks:
        for name, box, points in read_facepoints(args.landmarks):
            img = cv2.imread(os.path.join(args.landmark_images, name))
            if img is None:
                continue
            images += 1
            landmarks_of_face(img, box, points, args.size, w)
    w.close()
    result = {"images": images, "samples": sum(w.counts.values()), "counts": w.counts,
              "seconds": round(time.perf_counter() - start, 3)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
