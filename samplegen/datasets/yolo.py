"""YOLO txt labels with a ``data.yaml`` (reference-semantics A.7).

`path` is either a ``data.yaml`` (keys ``path``, ``train``, ``val``, ``names``; the ``train`` split
is read, relative to ``path``, which is itself relative to the yaml's folder) or an images
folder. Labels live in the same tree with the last ``images`` component replaced by ``labels``:
``images/train2017/x.jpg`` pairs with ``labels/train2017/x.txt``.

* Images are every file with an image extension under the images folder (recursively), in
  sorted order of their path relative to it, which is also the record key.
* ``Record.image`` is the absolute image path (YOLO files name no path to keep "as written"),
  so the engine finds it without an images root; `images_root` is ignored and
  ``Dataset.meta["images_dir"]`` records the folder.
* A missing or empty label file is a background image (kept, no boxes).
* Rows are ``class xc yc w h``, normalised; pixels use the size from the image header, so an
  image whose header cannot be read is an InputError. Boxes become continuous
  ``[(xc - w/2) W, (yc - h/2) H, (xc + w/2) W, (yc + h/2) H]`` without clipping (values slightly
  above 1 occur); ``w <= 0`` or ``h <= 0`` -> dropped (``zero_size``); duplicate rows are kept.
  Segment rows (``class x1 y1 x2 y2 ...`` polygons) are refused: they are not boxes.
* A ``train`` given as a list or an image-list ``.txt`` is not supported (InputError).
* ``names`` may be a list or a ``{index: name}`` dict with keys 0..n-1; a class index must be
  below the number of names.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from samplegen.datasets.image_size import image_size
from samplegen.datasets.lines import expect_count, float_fields, int_field, numbered_tokens, quote, read_input
from samplegen.datasets.paths import check_written_path
from samplegen.errors import InputError
from samplegen.record import Dataset, Record, ZERO_SIZE, check_record

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".dng", ".mpo"})
_ROW = "YOLO row (class xc yc w h)"


def read_yolo(path: Path, images_root: Path | None = None) -> Dataset:
    """Read a YOLO dataset into one Record per image, in sorted key order.

    Args:
        path: ``data.yaml`` or an images folder (then class names are ``"0"``, ``"1"``, ... up to
            the largest index seen).
        images_root: ignored; images are found through the layout.

    Raises:
        InputError: unreadable yaml or missing keys, no ``images`` component in the images path,
            a row without 5 fields, a class out of range, an image whose size cannot be read.
    """
    if path.is_dir():
        images_dir, names = path, None
    else:
        images_dir, names = _read_yaml(path)
    if not images_dir.is_dir():
        raise InputError(path, None, f"images folder {quote(str(images_dir))} does not exist")
    labels_dir = _labels_dir(path, images_dir)
    images = sorted((p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
                    key=lambda p: p.relative_to(images_dir).as_posix())
    if not images:
        raise InputError(path, None, f"no images in {quote(str(images_dir))}")
    num_classes = len(names) if names is not None else None
    records = []
    for image in images:
        rel = image.relative_to(images_dir)
        check_written_path(rel.as_posix(), images_dir, None)  # a non-UTF-8 file name on disk
        rows = _read_label(labels_dir / rel.with_suffix(".txt"), num_classes)
        records.append(_record(image, rel.as_posix(), rows))
    if names is None:
        top = max((int(r.labels.max()) for r in records if r.num_boxes), default=-1)
        names = tuple(str(i) for i in range(top + 1))
    meta = {"images_dir": str(images_dir), "labels_dir": str(labels_dir)}
    return Dataset("yolo", str(path), records, tuple(names), meta)


def _read_yaml(path: Path) -> tuple[Path, tuple[str, ...]]:
    try:
        data = yaml.safe_load(read_input(path).decode("utf-8"))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        raise InputError(path, line, f"invalid YAML: {exc.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(path, None, f"invalid YAML: {quote(str(exc))}") from None
    except RecursionError:
        raise InputError(path, None, "invalid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError(path, None, "data.yaml must be a mapping with train and names")
    train = data.get("train")
    if not isinstance(train, str):
        raise InputError(path, None, f"'train' must be an images folder, got {quote(train)}")
    base = path.parent / str(data.get("path") or ".")
    return base / train, _names(path, data)


def _names(path: Path, data: dict) -> tuple[str, ...]:
    names = data.get("names")
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise InputError(path, None, f"'names' keys must be 0..{len(names) - 1}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, list) or not names:
        raise InputError(path, None, "'names' must be a non-empty list or {index: name} mapping")
    nc = data.get("nc")
    if nc is not None and nc != len(names):
        raise InputError(path, None, f"'nc' is {quote(nc)} but 'names' has {len(names)} entries")
    return tuple(str(n) for n in names)


def _labels_dir(source: Path, images_dir: Path) -> Path:
    parts = list(images_dir.parts)
    if "images" not in parts:
        raise InputError(source, None, f"images path {quote(str(images_dir))} has no 'images' component "
                                       "to replace with 'labels'")
    last = len(parts) - 1 - parts[::-1].index("images")
    parts[last] = "labels"
    return Path(*parts)


def _read_label(label: Path, num_classes: int | None) -> list[tuple[int, list[float]]]:
    """(class, [xc, yc, w, h]) rows of one label file; [] when it is missing or empty."""
    if not label.is_file():
        return []
    rows = []
    for number, tokens in numbered_tokens(label):
        expect_count(label, number, tokens, 5, _ROW)
        cls = int_field(label, number, tokens[0], "class")
        if cls < 0 or (num_classes is not None and cls >= num_classes):
            raise InputError(label, number, f"class {cls} out of range (data.yaml has {num_classes} names)")
        rows.append((cls, float_fields(label, number, tokens[1:], "box")))
    return rows


def _record(image: Path, key: str, rows: list[tuple[int, list[float]]]) -> Record:
    size = image_size(image)
    if size is None:
        raise InputError(image, None, "cannot read the image size from its header (needed for YOLO boxes)")
    width, height = size
    xywh = np.array([v for _, v in rows], np.float64).reshape(-1, 4)
    classes = np.array([c for c, _ in rows], np.int32)
    boxes = np.stack([xywh[:, 0] - xywh[:, 2] / 2, xywh[:, 1] - xywh[:, 3] / 2,
                      xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2], axis=1)
    boxes *= np.array([width, height, width, height], np.float64)
    keep = (xywh[:, 2] > 0) & (xywh[:, 3] > 0)
    dropped = int((~keep).sum())
    record = Record(
        key=key, image=str(image.resolve()), width=width, height=height,
        boxes=boxes[keep].astype(np.float32), labels=classes[keep],
        dropped={ZERO_SIZE: dropped} if dropped else {},
    )
    check_record(record)
    return record
