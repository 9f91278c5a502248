"""Real-data fixtures for the MTCNN core tests.

The readers (samplegen.datasets) are written in parallel, so these fixtures parse the two real
formats they need with a few lines each: the official WIDER layout and the facial-point list.
WIDER images are not available; their records get a synthetic 1024x768 size (boxes outside it
are clipped), as the issue's "images synthesised to the needed sizes".
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from samplegen.record import Record

WIDER_SIZE = (1024, 768)


def parse_wider(path: Path, limit: int | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(image, boxes float32 [N,4] x1y1x2y2, invalid bool [N])`` per image; drops w or h <= 0."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines) and (limit is None or len(out) < limit):
        name, count = lines[i].strip(), int(lines[i + 1])
        rows = [line.split() for line in lines[i + 2:i + 2 + max(count, 1)]]
        i += 2 + max(count, 1)
        arr = np.array([[float(v) for v in r[:10]] for r in rows[:count]], np.float64).reshape(-1, 10)
        keep = (arr[:, 2] > 0) & (arr[:, 3] > 0)
        arr = arr[keep]
        boxes = np.stack([arr[:, 0], arr[:, 1], arr[:, 0] + arr[:, 2], arr[:, 1] + arr[:, 3]], 1)
        out.append((name, boxes.astype(np.float32), arr[:, 7] > 0))
    return out


def wider_records(path: Path, size: tuple[int, int] | None, limit: int | None = None,
                  images_root: Path | None = None) -> list[Record]:
    """Records from a WIDER file: invalid boxes become ignore regions; sizes synthetic or read."""
    records = []
    for name, boxes, invalid in parse_wider(path, limit):
        if size is None:
            h, w = cv2.imread(str(images_root / name)).shape[:2]
        else:
            w, h = size
        boxes = boxes.copy()
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        faces, ignore = boxes[ok & ~invalid], boxes[ok & invalid]
        records.append(Record(key=name, image=name, width=w, height=h, boxes=faces,
                              labels=np.zeros(len(faces), np.int32), ignore=ignore,
                              ignore_labels=np.zeros(len(ignore), np.int32)))
    return records


def facepoint_records(path: Path, images_root: Path | None,
                      size: tuple[int, int] | None = None) -> list[Record]:
    """One record per image of a facial-point list (``path x1 x2 y1 y2`` + 5 points, A.6)."""
    grouped: dict[str, list[list[float]]] = {}
    for line in path.read_text().splitlines():
        parts = line.strip().split()
        if parts:
            grouped.setdefault(parts[0].replace("\\", "/"), []).append([float(v) for v in parts[1:15]])
    records = []
    for name, rows in grouped.items():
        arr = np.array(rows, np.float64)
        boxes = arr[:, [0, 2, 1, 3]].astype(np.float32)
        points = arr[:, 4:14].reshape(-1, 5, 2).astype(np.float32)
        if size is None:
            h, w = cv2.imread(str(images_root / name)).shape[:2]
        else:
            w, h = size
        records.append(Record(key=name, image=name, width=w, height=h, boxes=boxes,
                              labels=np.zeros(len(boxes), np.int32), landmarks=points))
    return records


@pytest.fixture(scope="session")
def dlib_root(shared_data: Path) -> Path:
    return shared_data / "dlib_faces"


@pytest.fixture(scope="session")
def dlib_wider(dlib_root: Path) -> list[Record]:
    """The dlib photos' faces from the derived WIDER files (train + val), with real image sizes."""
    derived = dlib_root / "derived"
    return (wider_records(derived / "wider_face_train_bbx_gt.txt", None, images_root=dlib_root)
            + wider_records(derived / "wider_face_val_bbx_gt.txt", None, images_root=dlib_root))


@pytest.fixture(scope="session")
def dlib_landmarks(dlib_root: Path) -> list[Record]:
    """The dlib photos' faces with 5 points from the derived facial-point lists."""
    derived = dlib_root / "derived"
    return (facepoint_records(derived / "trainImageList.txt", dlib_root)
            + facepoint_records(derived / "valImageList.txt", dlib_root))


@pytest.fixture(scope="session")
def wider_subset(shared_data: Path) -> list[Record]:
    """The first 300 real WIDER train annotations with a synthetic 1024x768 image size."""
    return wider_records(shared_data / "wider" / "wider_face_train_bbx_gt.txt", WIDER_SIZE, limit=300)
