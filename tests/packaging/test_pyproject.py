"""The wheel must contain every subpackage and the presets (a non-editable install uses it)."""
from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "samplegen").rglob("*.py")}
    found.add("samplegen.configs")
    assert found == listed


def test_every_preset_is_matched_by_package_data():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = config["package-data"]["samplegen.configs"]
    presets = {p.relative_to(REPO / "configs").as_posix() for p in (REPO / "configs").rglob("*.yaml")}
    matched = {p for p in presets for pattern in patterns if Path(p).match(pattern)}
    assert presets and matched == presets
