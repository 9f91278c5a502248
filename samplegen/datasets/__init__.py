"""Annotation readers: one module per format, each ``read_<format>(path, images_root) -> Dataset``.

`READERS` is the only table from a format name (as written in YAML or on the command line) to
its reader; below it, code calls the reader functions directly. Every reader returns the records
in file order (YOLO: sorted image order), builds each with `check_record`, and reports every
malformation as ``InputError(path, line, message)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from samplegen.datasets.celeba import read_celeba
from samplegen.datasets.coco import read_coco
from samplegen.datasets.detections import read_detections
from samplegen.datasets.facepoints import read_facepoints
from samplegen.datasets.voc import read_voc
from samplegen.datasets.wider import read_wider
from samplegen.datasets.wider_lines import read_wider_lines
from samplegen.datasets.yolo import read_yolo
from samplegen.errors import ConfigError, InputError
from samplegen.record import Dataset

Reader = Callable[[Path, "Path | None"], Dataset]

READERS: dict[str, Reader] = {
    "wider": read_wider,
    "wider-lines": read_wider_lines,
    "coco": read_coco,
    "voc": read_voc,
    "yolo": read_yolo,
    "facepoints": read_facepoints,
    "celeba": read_celeba,
}


def read_dataset(format: str, path: str | Path, images_root: str | Path | None = None) -> Dataset:
    """Read `path` with the reader named `format`.

    Raises:
        ConfigError: `format` is not a key of `READERS`.
        InputError: `path` does not exist, `images_root` is given but is not a folder (ignored
            for yolo, whose images are found through its layout), or the reader found a
            malformed annotation.
    """
    reader = READERS.get(format)
    if reader is None:
        raise ConfigError(f"unknown annotation format {format!r}; known: {', '.join(READERS)}")
    path = Path(path)
    if not path.exists():
        raise InputError(path, None, "no such file")
    root = None if images_root is None else Path(images_root)
    # A mistyped images folder would otherwise only show up as every image "missing" later.
    if root is not None and reader is not read_yolo and not root.is_dir():
        raise InputError(root, None, "images root is not a folder")
    return reader(path, root)


__all__ = ["READERS", "read_dataset", "read_detections", "read_celeba", "read_coco", "read_facepoints",
           "read_voc", "read_wider", "read_wider_lines", "read_yolo"]
