"""Shared fixtures: where the real data lives, and small real fixtures committed under tests/data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TESTS_DATA = Path(__file__).resolve().parent / "data"


def _shared_data_dir() -> Path | None:
    env = os.environ.get("SAMPLEGEN_SHARED_DATA")
    candidate = Path(env) if env else REPO.parent / "shared" / "data"
    return candidate if (candidate / "wider").is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real WIDER/COCO/VOC/landmark files (``../shared/data`` or $SAMPLEGEN_SHARED_DATA)."""
    found = _shared_data_dir()
    if found is None:
        pytest.skip("real data not found: set SAMPLEGEN_SHARED_DATA or place shared/data beside the repo")
    return found


@pytest.fixture(scope="session")
def tests_data() -> Path:
    return TESTS_DATA


@pytest.fixture(scope="session")
def wider_train(shared_data: Path):
    """The real WIDER FACE train file, parsed once per test run (no images: sizes unknown)."""
    from samplegen.datasets.wider import read_wider

    return read_wider(shared_data / "wider" / "wider_face_train_bbx_gt.txt", None)
