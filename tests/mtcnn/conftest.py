"""Real-data fixtures for the MTCNN core tests.

Records come from the package's readers on the real files of ``shared/data``: the dlib photos
(real pixels, real sizes, real boxes and 5-point landmarks) and the real WIDER train boxes, whose
images are not available, so they get a synthetic 1024x768 size (boxes clipped to it), as issue 3
asks ("real boxes, images synthesised to the needed sizes").
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets import read_facepoints, read_wider
from samplegen.mtcnn.config import MtcnnConfig, load_mtcnn_config
from samplegen.record import Record

WIDER_SIZE = (1024, 768)


def with_size(record: Record, width: int, height: int) -> Record:
    """`record` with a synthetic image size; boxes clipped to it, empty ones dropped."""
    def clip(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = boxes.copy()
        out[:, 0::2] = np.clip(out[:, 0::2], 0, width)
        out[:, 1::2] = np.clip(out[:, 1::2], 0, height)
        keep = (out[:, 2] > out[:, 0]) & (out[:, 3] > out[:, 1])
        return out[keep], keep

    boxes, keep = clip(record.boxes)
    ignore, ikeep = clip(record.ignore)
    return dataclasses.replace(record, width=width, height=height, boxes=boxes, labels=record.labels[keep],
                               ignore=ignore, ignore_labels=record.ignore_labels[ikeep],
                               landmarks=None if record.landmarks is None else record.landmarks[keep],
                               attributes={k: v[keep] for k, v in record.attributes.items()})


@pytest.fixture(scope="session")
def dlib_root(shared_data: Path) -> Path:
    return shared_data / "dlib_faces"


@pytest.fixture(scope="session")
def dlib_wider(dlib_root: Path) -> list[Record]:
    """The dlib photos' faces from the derived WIDER files (train + val), with real image sizes."""
    derived = dlib_root / "derived"
    return [r for name in ("wider_face_train_bbx_gt.txt", "wider_face_val_bbx_gt.txt")
            for r in read_wider(derived / name, dlib_root).records]


@pytest.fixture(scope="session")
def dlib_landmarks(dlib_root: Path) -> list[Record]:
    """The dlib photos' faces with 5 points from the derived facial-point lists."""
    derived = dlib_root / "derived"
    return [r for name in ("trainImageList.txt", "valImageList.txt")
            for r in read_facepoints(derived / name, dlib_root).records]


@pytest.fixture(scope="session")
def wider_all(wider_train) -> list[Record]:
    """All real WIDER train annotations (sizes unknown: no images)."""
    return wider_train.records


@pytest.fixture(scope="session")
def wider_subset(wider_all: list[Record]) -> list[Record]:
    """The first 300 real WIDER train records with a synthetic 1024x768 image size."""
    return [with_size(r, *WIDER_SIZE) for r in wider_all[:300]]


@pytest.fixture(scope="session")
def facepoint_subset(shared_data: Path) -> list[Record]:
    """The first 500 faces of the real facial-point train list, on synthetic 250x250 images."""
    records = read_facepoints(shared_data / "facepoint" / "trainImageList.txt", None).records[:500]
    return [with_size(r, 250, 250) for r in records]


@pytest.fixture(scope="session")
def make_config():
    """``make_config(size=12, **overrides)``: the shipped preset with overrides (nested dicts
    for ``landmark``/``hard``)."""
    def build(size: int = 12, **overrides: object) -> MtcnnConfig:
        return load_mtcnn_config(size, overrides or None)[0]
    return build
