"""Fixtures for the detection tests: the shared MTCNN models and the presets.

The models come from ``shared/data/models`` through the suite's `shared_data` fixture (skipped
with its reason when the folder is absent); they are small (PNet 28 KB, RNet 0.4 MB).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from samplegen.detect.config import DetectConfig, load_detect_config
from samplegen.detect.nets import NetSpec, Nets, load_nets

LAYOUT_DIRS = {"nchw": "nchw", "nhwc_swapped": "nhwc-keras"}
"""Layout -> folder of shared/data/models holding that export of the paper's weights."""


@pytest.fixture(scope="session")
def models(shared_data: Path) -> Path:
    found = shared_data / "models"
    if not (found / "nhwc-keras" / "pnet.onnx").is_file():
        pytest.skip(f"MTCNN models not found under {found}")
    return found


@pytest.fixture(scope="session")
def ipazc() -> DetectConfig:
    return load_detect_config("ipazc")


def spec(models: Path, layout: str, rnet: bool = True) -> NetSpec:
    folder = models / LAYOUT_DIRS[layout]
    return NetSpec(str(folder / "pnet.onnx"), str(folder / "rnet.onnx") if rnet else None)


@pytest.fixture(scope="session")
def nhwc_nets(models: Path, ipazc: DetectConfig) -> Nets:
    return load_nets(spec(models, "nhwc_swapped"), ipazc)


@pytest.fixture(scope="session")
def nchw_nets(models: Path, ipazc: DetectConfig) -> Nets:
    return load_nets(spec(models, "nchw"), ipazc)
