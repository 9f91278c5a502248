"""COCO instances JSON (reference-semantics A.3).

* ``bbox`` ``[x, y, w, h]`` (continuous, 0-based) becomes ``[x, y, x + w, y + h]``;
* ``iscrowd == 1`` (absent means 0) -> ignore region with its class;
* ``w <= 0`` or ``h <= 0`` -> dropped, reason ``zero_size`` (checked before ``iscrowd``, so every
  annotation is counted once);
* category ids (non-contiguous, 1..90 in COCO) map to contiguous indices in sorted id order;
  ``Dataset.meta["category_ids"][index]`` is the original id and ``class_names[index]`` its name;
* images without annotations are kept (negative sources); records follow the ``images`` order.

JSON syntax errors carry the line of the error; semantic errors (an annotation whose image or
category does not exist, a bbox of the wrong length) are file-level (line None) and name the
annotation id, because JSON values have no line numbers once parsed.

Numbers are checked before they reach numpy: ids are integers within int64 (``true`` is not an
id, although Python's ``True == 1``) or strings; ``width``/``height`` are whole numbers up to
`MAX_IMAGE_SIDE`; bbox values are finite (``NaN``, ``Infinity`` and ``1e400`` are refused) and
within ±`MAX_COORDINATE`, ``x + w`` included. A document nested too deeply for the parser or
holding an integer of thousands of digits is an InputError, not a crash.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from samplegen.datasets.lines import (
    MAX_COORDINATE, check_coordinate, check_image_side, quote, read_input,
)
from samplegen.datasets.paths import check_written_path, image_key, image_size_under, resolve_image
from samplegen.errors import InputError
from samplegen.record import Dataset, Record, ZERO_SIZE, check_record

MAX_ID = 2 ** 63 - 1  # COCO tools store ids as int64


def read_coco(path: Path, images_root: Path | None) -> Dataset:
    """Read a COCO instances file into one Record per entry of ``images``.

    Args:
        path: ``instances_*.json``.
        images_root: folder ``file_name`` is relative to (used only for images whose
            ``width``/``height`` are missing or 0), or None.

    Returns:
        Dataset with ``class_names`` from ``categories`` (sorted by id) and
        ``meta["category_ids"]``.

    Raises:
        InputError: invalid JSON (with its line), a missing key, an annotation referencing an
            unknown image or category, a bbox that is not 4 finite numbers, a duplicate image id
            or file name.
    """
    data = _load(path)
    category_ids, class_names = _categories(path, data)
    index_of = {cid: i for i, cid in enumerate(category_ids)}
    images = _images(path, data)
    per_image: dict[Any, list[tuple[list[float], int, bool]]] = {image_id: [] for image_id in images}
    for ann in _list(path, data, "annotations"):
        ann_id = ann.get("id", "?") if isinstance(ann, dict) else "?"
        where = f"annotation id {quote(ann_id, 40) if not isinstance(ann_id, int) else _short(ann_id)}"
        if not isinstance(ann, dict):
            raise InputError(path, None, f"{where}: an annotation must be an object")
        image_id = _field(path, ann, "image_id", where)
        if not _is_id(image_id) or image_id not in per_image:
            raise InputError(path, None, f"{where}: image_id {quote(image_id)} is not in images")
        category_id = _field(path, ann, "category_id", where)
        if not _is_id(category_id) or isinstance(category_id, str) or category_id not in index_of:
            raise InputError(path, None, f"{where}: unknown category_id {quote(category_id)}")
        crowd = ann.get("iscrowd", 0)
        if isinstance(crowd, bool) or crowd not in (0, 1):
            raise InputError(path, None, f"{where}: iscrowd must be 0 or 1, got {quote(crowd)}")
        per_image[image_id].append((_bbox(path, ann, where), index_of[category_id], crowd == 1))
    records = []
    for image_id, (image, width, height) in images.items():
        if images_root is not None:
            resolve_image(images_root, image, path, None)  # refuse escapes even when the size is known
        if not width or not height:
            width, height = image_size_under(images_root, image, path, None)
        records.append(_record(image, width, height, per_image[image_id]))
    meta = {"category_ids": list(category_ids)}
    return Dataset("coco", str(path), records, tuple(class_names), meta)


def coco_image_ids(path: Path) -> dict[str, str]:
    """``str(image id)`` -> record key of every entry of ``images`` (for ``--image 9``: COCO's
    own id of an image). Reads the file again: the records do not carry COCO ids."""
    ids = {}
    for img in _list(path, _load(path), "images"):
        if isinstance(img, dict) and _is_id(img.get("id")) and isinstance(img.get("file_name"), str):
            ids[str(img["id"])] = image_key(img["file_name"])
    return ids


def _load(path: Path) -> dict:
    try:
        data = json.loads(read_input(path))
    except json.JSONDecodeError as exc:
        raise InputError(path, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 JSON: {exc.reason}") from None
    except RecursionError:
        raise InputError(path, None, "invalid JSON: nested too deeply (not a COCO file)") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise InputError(path, None, f"invalid JSON: {quote(str(exc), 60)}") from None
    if not isinstance(data, dict):
        raise InputError(path, None, "a COCO file must be a JSON object with images, annotations, categories")
    return data


def _list(path: Path, data: dict, name: str) -> list:
    value = data.get(name)
    if not isinstance(value, list):
        raise InputError(path, None, f"{name!r} must be a list, got {quote(value)}")
    return value


def _field(path: Path, obj: dict, name: str, where: str) -> Any:
    if name not in obj:
        raise InputError(path, None, f"{where}: missing {name!r}")
    return obj[name]


def _categories(path: Path, data: dict) -> tuple[list[int], list[str]]:
    names: dict[int, str] = {}
    for cat in _list(path, data, "categories"):
        if not isinstance(cat, dict):
            raise InputError(path, None, "each category must be an object")
        cid = _field(path, cat, "id", "category")
        if not _is_id(cid) or isinstance(cid, str):
            raise InputError(path, None, f"category id must be an integer, got {quote(cid)}")
        if cid in names:
            raise InputError(path, None, f"duplicate category id {_short(cid)}")
        names[cid] = str(_field(path, cat, "name", f"category id {cid}"))
    ids = sorted(names)
    return ids, [names[cid] for cid in ids]


def _images(path: Path, data: dict) -> dict[Any, tuple[str, int | None, int | None]]:
    """image id -> (file_name, width, height), in file order; duplicates are refused."""
    images: dict[Any, tuple[str, int | None, int | None]] = {}
    by_key: dict[str, Any] = {}
    for img in _list(path, data, "images"):
        if not isinstance(img, dict):
            raise InputError(path, None, "each image must be an object")
        image_id = _field(path, img, "id", "image")
        if not _is_id(image_id):
            raise InputError(path, None, f"image id must be an integer or a string, got {quote(image_id)}")
        where = f"image id {quote(image_id) if isinstance(image_id, str) else _short(image_id)}"
        name = _field(path, img, "file_name", where)
        if not isinstance(name, str):
            raise InputError(path, None, f"{where}: file_name must be a string, got {quote(name)}")
        if image_id in images:
            raise InputError(path, None, f"duplicate {where}")
        check_written_path(name, path, None)
        key = image_key(name)
        if key in by_key:
            raise InputError(path, None, f"duplicate image {quote(key)} (image ids {quote(by_key[key])} "
                                         f"and {quote(image_id)})")
        by_key[key] = image_id
        images[image_id] = (name, _size(path, img, "width", where), _size(path, img, "height", where))
    return images


def _size(path: Path, img: dict, name: str, where: str) -> int | None:
    value = img.get(name)
    if value is None:
        return None
    if not _is_number(value) or value < 0 or value != int(value):
        raise InputError(path, None, f"{where}: {name} must be a non-negative integer, got {quote(value)}")
    check_image_side(path, None, value, f"{where}: {name}")
    return int(value)


def _bbox(path: Path, ann: dict, where: str) -> list[float]:
    bbox = _field(path, ann, "bbox", where)
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise InputError(path, None, f"{where}: bbox must be [x, y, w, h], got {quote(bbox)}")
    for v in bbox:
        if not _is_number(v):
            raise InputError(path, None, f"{where}: bbox values must be finite numbers, got {quote(bbox)}")
        if abs(v) > MAX_COORDINATE:  # before float(): a 400-digit int does not fit a float
            check_coordinate(path, None, math.inf, f"{where}: bbox value", _short(v))
    x, y, w, h = (float(v) for v in bbox)
    check_coordinate(path, None, x + w, f"{where}: bbox x + w")
    check_coordinate(path, None, y + h, f"{where}: bbox y + h")
    return [x, y, w, h]


def _is_number(value: Any) -> bool:
    """A JSON number that is finite (an int of any length, or a finite float; not a bool)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_id(value: Any) -> bool:
    """An integer within int64 (not a bool) or a string."""
    if isinstance(value, str):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_ID


def _short(number: Any) -> str:
    """A number for a message: a 400-digit integer is shown by its first digits and length."""
    text = str(number) if not isinstance(number, str) else number
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"


def _record(image: str, width: int | None, height: int | None,
            anns: list[tuple[list[float], int, bool]]) -> Record:
    usable = [(b, c) for b, c, crowd in anns if b[2] > 0 and b[3] > 0 and not crowd]
    crowds = [(b, c) for b, c, crowd in anns if b[2] > 0 and b[3] > 0 and crowd]
    dropped = len(anns) - len(usable) - len(crowds)
    record = Record(
        key=image_key(image), image=image, width=width, height=height,
        boxes=_xyxy([b for b, _ in usable]), labels=np.array([c for _, c in usable], np.int32),
        ignore=_xyxy([b for b, _ in crowds]), ignore_labels=np.array([c for _, c in crowds], np.int32),
        dropped={ZERO_SIZE: dropped} if dropped else {},
    )
    check_record(record)
    return record


def _xyxy(bboxes: list[list[float]]) -> np.ndarray:
    xywh = np.array(bboxes, np.float64).reshape(-1, 4)
    xywh[:, 2:] += xywh[:, :2]
    return xywh.astype(np.float32)
