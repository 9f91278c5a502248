"""Session fixtures of the end-to-end CLI tests: real-data paths and small real subsets."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import make_coco_subset, make_wider_subset


@pytest.fixture(scope="session")
def dlib(shared_data: Path) -> dict[str, Path]:
    """The dlib photos (real pixels) with their derived WIDER / facial-point / COCO files."""
    root = shared_data / "dlib_faces"
    derived = root / "derived"
    return {"root": root, "wider": derived / "wider_face_train_bbx_gt.txt",
            "points": derived / "trainImageList.txt", "coco": derived / "instances_train.json",
            "coco_val": derived / "instances_val.json"}


@pytest.fixture(scope="session")
def lm_config(tmp_path_factory) -> Path:
    """--config lowering landmark.min_face to 20 so the dlib faces (37-45 px) give landmark samples."""
    path = tmp_path_factory.mktemp("cfg") / "landmarks20.yaml"
    path.write_text("landmark:\n  min_face: 20\n")
    return path


@pytest.fixture(scope="session")
def dlib_args(dlib, lm_config) -> list[str]:
    r = dlib
    return ["--annotations", r["wider"], "--format", "wider", "--images", r["root"],
            "--landmarks", r["points"], "--landmark-images", r["root"], "--config", lm_config,
            "--no-progress"]


@pytest.fixture(scope="session")
def wider_subset(shared_data: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(annotation, images root): first 30 blocks of the real WIDER train file + synthesised PNGs."""
    return make_wider_subset(shared_data, tmp_path_factory.mktemp("wider"))


@pytest.fixture(scope="session")
def wider_args(wider_subset, dlib, lm_config) -> list[str]:
    """WIDER subset faces + the dlib facial points as the landmark source."""
    ann, images = wider_subset
    return ["--annotations", ann, "--format", "wider", "--images", images,
            "--landmarks", dlib["points"], "--landmark-images", dlib["root"], "--config", lm_config,
            "--no-progress"]


@pytest.fixture(scope="session")
def coco_subset(shared_data: Path, tmp_path_factory) -> Path:
    return make_coco_subset(shared_data, tmp_path_factory.mktemp("coco") / "coco8.json")
