"""WIDER FACE ``wider_face_{train,val}_bbx_gt.txt`` (reference-semantics A.1).

Each image is a block: the image path, the face count N, then N lines of
``x1 y1 w h blur expression illumination invalid occlusion pose`` (ten integers). Boxes become
continuous ``[x1, y1, x1 + w, y1 + h]`` (no -1; the origin is taken as 0-based).

Every line in a box position is counted exactly once, in this order of rules:

1. ``w <= 0`` or ``h <= 0`` -> dropped, reason ``zero_size`` (checked first, so a zero-size box
   that is also ``invalid=1`` is dropped, not ignored; the official train file has none such);
2. ``invalid == 1`` -> ignore region (class 0);
3. otherwise a usable face, with its six attributes kept in ``Record.attributes``.

Zero-face images come in two conventions and both give a record without faces:

* current files: count ``0`` followed by one placeholder line ``0 0 0 0 0 0 0 0 0 0`` (if the
  line after a ``0`` count is not all zeros it is taken as the next image path instead);
* older copies: count ``1`` followed by an all-zero line.

In both, the placeholder line is a box line of size 0, so it lands in ``dropped["zero_size"]``.
That is the definition behind the published totals: train's 159,424 "boxes" are 159,420 face
lines plus 4 placeholder lines, and its "31 boxes with w or h = 0" are 27 real ones plus the 4
placeholders; val's 39,708 are 39,704 face lines plus the 4 all-zero lines of the older
convention. So ``boxes + ignored + dropped`` equals those totals, and no placeholder ever becomes
a face. The keys of zero-face images are listed in ``Dataset.meta["zero_face_images"]``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from samplegen.datasets.lines import (
    LineWindow, duplicate_error, expect_count, float_fields, int_field, int_fields, iter_lines, quote,
)
from samplegen.datasets.paths import image_key, image_size_under
from samplegen.errors import InputError
from samplegen.record_table import packed_records
from samplegen.record import BoxAttributes, Dataset, FACE_CLASSES, NO_BOXES, NO_LABELS, Record, ZERO_SIZE, check_record

ATTRIBUTES = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")
_FIELDS = 4 + len(ATTRIBUTES)
_INVALID = 4 + ATTRIBUTES.index("invalid")
_NO_ATTRIBUTES = np.zeros((0, len(ATTRIBUTES)), np.int32)
_NO_ATTRIBUTES.flags.writeable = False


def read_wider(path: Path, images_root: Path | None) -> Dataset:
    """Read a WIDER FACE ground-truth file into one Record per image block, in file order.

    Args:
        path: ``wider_face_*_bbx_gt.txt``.
        images_root: ``WIDER_{split}/images`` to read image sizes from headers, or None.

    Returns:
        Dataset with class names ``("face",)``; records carry boxes float32 [N, 4], ignore
        regions for ``invalid=1``, attributes blur/expression/illumination/invalid/occlusion/pose
        int32 [N], and ``dropped["zero_size"]``.

    Raises:
        InputError: truncated block, bad or negative count, a box line without 10 integers,
            a duplicate image, an image path escaping `images_root`.
    """
    lines = LineWindow(iter_lines(path))   # a few lines at a time, not the whole file
    zero_face: list[str] = []
    records = packed_records(_records(path, lines, images_root, zero_face))
    return Dataset("wider", str(path), records, FACE_CLASSES, {"zero_face_images": zero_face})


def _records(path: Path, lines: LineWindow, images_root: Path | None, zero_face: list[str]) -> Iterator[Record]:
    """The blocks' records in file order (the keys of zero-face ones appended to `zero_face`)."""
    first_line: dict[str, int] = {}
    i = 0
    while (line := lines.get(i)) is not None:
        lines.forget(i)
        image = line.strip()
        if not image:
            i += 1
            continue
        path_line = i + 1
        key = image_key(image, path, path_line)
        if key in first_line:
            raise duplicate_error(path, path_line, key, first_line[key])
        first_line[key] = path_line
        count = _read_count(path, lines, i + 1, image)
        i += 2
        rows, i = _block_rows(path, lines, i, count, image)
        if count == 0 or (count == 1 and not any(rows[0][1])):
            zero_face.append(key)
        width, height = image_size_under(images_root, image, path, path_line)
        yield _block_record(key, image, width, height, rows)


def _read_count(path: Path, lines: LineWindow, index: int, image: str) -> int:
    tokens = (lines.get(index) or "").split()
    if not tokens:
        raise InputError(path, index + 1, f"truncated block: no face count after image {quote(image)}")
    expect_count(path, index + 1, tokens, 1, "face count line")
    count = int_field(path, index + 1, tokens[0], "face count")
    if count < 0:
        raise InputError(path, index + 1, f"face count must be >= 0, got {count}")
    return count


def _block_rows(path: Path, lines: LineWindow, i: int, count: int,
                image: str) -> tuple[list[tuple[int, list[int]]], int]:
    """The (line, 10 ints) box rows of one block and the index after it."""
    if count == 0:
        # Current convention: one all-zero placeholder line; older writers may omit it.
        tokens = (lines.get(i) or "").split()
        if len(tokens) == _FIELDS and all(t.strip("0.") == "" for t in tokens):
            return [(i + 1, [0] * _FIELDS)], i + 1
        return [], i
    rows = []
    for k in range(count):
        number = i + k + 1
        tokens = (lines.get(i + k) or "").split()
        if len(tokens) <= 1:
            found = "end of file" if not lines.has(i + k) else (quote(tokens[0]) if tokens else "a blank line")
            raise InputError(path, number, f"truncated block: image {quote(image)} declares {count} faces, "
                                           f"box line {k + 1} is {found}")
        expect_count(path, number, tokens, _FIELDS, "WIDER box line (x y w h + 6 attributes)")
        coords = float_fields(path, number, tokens[:4], "box")
        attrs = int_fields(path, number, tokens[4:], "attribute")
        rows.append((number, [*coords, *attrs]))
    return rows, i + count


def _block_record(key: str, image: str, width: int | None, height: int | None,
                  rows: list[tuple[int, list]]) -> Record:
    usable: list[list] = []
    ignore: list[list] = []
    dropped = 0
    for _line, row in rows:
        if row[2] <= 0 or row[3] <= 0:
            dropped += 1
        elif row[_INVALID] == 1:
            ignore.append(row)
        else:
            usable.append(row)
    record = Record(
        key=key, image=image, width=width, height=height,
        boxes=_xyxy(usable), labels=np.zeros(len(usable), np.int32),
        # most images have no ignore region: they share one read-only pair instead of two arrays each
        ignore=_xyxy(ignore) if ignore else NO_BOXES, ignore_labels=np.zeros(len(ignore), np.int32) if ignore else NO_LABELS,
        attributes=BoxAttributes(ATTRIBUTES, np.array([r[4:4 + len(ATTRIBUTES)] for r in usable], np.int32)
                                 if usable else _NO_ATTRIBUTES),
        dropped={ZERO_SIZE: dropped} if dropped else {},
    )
    check_record(record)
    return record


def _xyxy(rows: list[list]) -> np.ndarray:
    xywh = np.array([r[:4] for r in rows], np.float64).reshape(-1, 4)
    xywh[:, 2:] += xywh[:, :2]
    return xywh.astype(np.float32)
