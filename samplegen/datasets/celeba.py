"""CelebA ``list_bbox_celeba.txt`` with optional ``list_landmarks_celeba.txt`` (reference-semantics A.5).

Both files start with a count line and a column-name line, then one row per image:
``image_id x_1 y_1 width height`` and ``image_id`` + 10 integers (left eye, right eye, nose, left
mouth, right mouth as x y pairs). The landmarks file is read when it sits in the same folder; the
aligned ``list_landmarks_align_celeba.txt`` (178x218 crop coordinates) is never used.

* Boxes are ``[x, y, x + w, y + h]``, origin taken as 0-based; ``w <= 0`` or ``h <= 0`` (the
  known row ``101283.jpg 320 828 0 0``) -> dropped (``zero_size``) with its landmarks.
* Rows of one image are grouped into one Record in first-seen order; with landmarks, the k-th
  landmark row of an image belongs to its k-th box row.
* The count line must equal the number of rows.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from samplegen.datasets.lines import expect_count, float_fields, int_field, numbered_tokens, quote
from samplegen.datasets.paths import image_key, image_size_under
from samplegen.errors import InputError
from samplegen.record import Dataset, FACE_CLASSES, Record, ZERO_SIZE, check_record

BBOX_FILE = "list_bbox_celeba.txt"
LANDMARKS_FILE = "list_landmarks_celeba.txt"

Rows = list[tuple[int, str, list[float]]]


def read_celeba(path: Path, images_root: Path | None) -> Dataset:
    """Read CelebA boxes (and landmarks when present) into one Record per image.

    Args:
        path: ``list_bbox_celeba.txt``, or the folder holding it.
        images_root: the ``img_celeba`` folder (sizes from image headers), or None.

    Raises:
        InputError: a count line that disagrees with the rows, a row with the wrong number of
            fields, non-numeric values, landmarks that do not pair with the boxes.
    """
    if path.is_dir():
        path = path / BBOX_FILE
    boxes = _read_table(path, 4, "box row (image_id x y w h)")
    landmarks_path = path.parent / LANDMARKS_FILE
    points = _read_table(landmarks_path, 10, "landmark row (image_id + 10 values)") if landmarks_path.is_file() else None
    grouped: dict[str, list[tuple[int, list[float]]]] = {}
    written: dict[str, tuple[str, int]] = {}
    for number, image, values in boxes:
        key = image_key(image, path, number)
        written.setdefault(key, (image, number))
        grouped.setdefault(key, []).append((number, values))
    pairs = _pair_landmarks(landmarks_path, points, grouped) if points is not None else None
    records = []
    for key, rows in grouped.items():
        image, number = written[key]
        width, height = image_size_under(images_root, image, path, number)
        records.append(_record(key, image, width, height, rows, None if pairs is None else pairs[key]))
    meta = {"landmarks_file": str(landmarks_path) if points is not None else None}
    return Dataset("celeba", str(path), records, FACE_CLASSES, meta)


def _read_table(path: Path, num_values: int, what: str) -> Rows:
    """(line, image_id, values) rows after the count and header lines, checked against the count."""
    numbered = list(numbered_tokens(path))
    if len(numbered) < 2:
        raise InputError(path, len(numbered) + 1, "expected a count line and a header line")
    count_line, count_tokens = numbered[0]
    expect_count(path, count_line, count_tokens, 1, "count line")
    count = int_field(path, count_line, count_tokens[0], "row count")
    rows: Rows = []
    for number, tokens in numbered[2:]:
        expect_count(path, number, tokens, 1 + num_values, what)
        rows.append((number, tokens[0], float_fields(path, number, tokens[1:], "value")))
    if count != len(rows):
        raise InputError(path, count_line, f"count line says {count} rows but the file has {len(rows)}")
    return rows


def _pair_landmarks(path: Path, points: Rows,
                    grouped: dict[str, list[tuple[int, list[float]]]]) -> dict[str, list[list[float]]]:
    pairs: dict[str, list[list[float]]] = {key: [] for key in grouped}
    for number, image, values in points:
        key = image_key(image)
        if key not in pairs:
            raise InputError(path, number, f"landmarks for {quote(image)}, which has no box row")
        if len(pairs[key]) == len(grouped[key]):
            raise InputError(path, number, f"more landmark rows than box rows for {quote(image)}")
        pairs[key].append(values)
    for key, rows in grouped.items():
        if len(pairs[key]) != len(rows):
            raise InputError(path, None, f"{quote(key)} has {len(rows)} box rows but {len(pairs[key])} landmark rows")
    return pairs


def _record(key: str, image: str, width: int | None, height: int | None,
            rows: list[tuple[int, list[float]]], points: list[list[float]] | None) -> Record:
    xywh = np.array([v for _, v in rows], np.float64).reshape(-1, 4)
    keep = (xywh[:, 2] > 0) & (xywh[:, 3] > 0)
    xywh[:, 2:] += xywh[:, :2]
    dropped = int((~keep).sum())
    landmarks = None if points is None else np.array(points, np.float32).reshape(-1, 5, 2)[keep]
    record = Record(
        key=key, image=image, width=width, height=height,
        boxes=xywh[keep].astype(np.float32), labels=np.zeros(int(keep.sum()), np.int32),
        landmarks=landmarks, dropped={ZERO_SIZE: dropped} if dropped else {},
    )
    check_record(record)
    return record
