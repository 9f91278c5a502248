"""The import graph points one way (ARCHITECTURE.md): cores and the engine never import upwards.

Each package may import only the packages listed for it (plus itself and the standard library);
`samplegen` here is the top-level modules errors, record, boxes, rng, locations. Imports inside functions
count too: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "samplegen"
BASE = {"errors", "record", "record_table", "boxes", "rng", "locations"}
ALLOWED = {
    "config": {"errors"},
    "datasets": {"errors", "record", "record_table", "locations"},
    "writers": {"errors"},
    "engine": {"errors", "locations", "config", "writers", "__init__"},     # __init__: the version, for the Ray probe
    "mtcnn": BASE | {"config"},
    "anchors": BASE | {"config"},
    "detect": BASE | {"config"},
    "outputs": BASE | {"config", "engine", "writers", "mtcnn", "anchors"},   # writers: decoders beside encoders
    "render": BASE | {"mtcnn", "anchors"},
    "torch": BASE | {"engine", "mtcnn", "outputs"},
    "pipelines": BASE | {"config", "datasets", "writers", "engine", "mtcnn", "anchors", "detect", "outputs",
                         "render", "embedded", "__init__"},
}
TOP_LEVEL = {p.stem for p in PACKAGE.glob("*.py")} | {p.name for p in PACKAGE.iterdir() if p.is_dir()}


def imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = name.split(".")
            if parts[0] != "samplegen":
                continue
            if len(parts) == 1:       # `from samplegen import x`: the top-level package itself
                found |= {"__init__"} | ({a.name for a in node.names} & TOP_LEVEL if isinstance(node, ast.ImportFrom) else set())
            else:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_downwards(package):
    wrong = {}
    for path in sorted((PACKAGE / package).rglob("*.py")):
        extra = imported_packages(path) - ALLOWED[package] - {package}
        if extra:
            wrong[str(path.relative_to(PACKAGE))] = sorted(extra)
    assert not wrong, f"upward imports: {wrong}"


def test_base_modules_import_nothing_above_them():
    for name in BASE:
        assert imported_packages(PACKAGE / f"{name}.py") <= BASE, name


def test_import_samplegen_is_cheap():
    import subprocess
    import sys

    code = "import sys, samplegen; print(sorted(m for m in ('cv2', 'yaml', 'click', 'tqdm') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
