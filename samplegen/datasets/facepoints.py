"""CNN facial-point lists, ``trainImageList.txt`` / ``testImageList.txt`` (reference-semantics A.6).

Each line is ``PATH x1 x2 y1 y2`` (note the order: left, right, top, bottom) followed by five
``x y`` points: left eye, right eye, nose, left mouth corner, right mouth corner ("left" is
image-left). CRLF line ends and backslash paths are accepted.

Box convention: the values are used as given, ``[x1, y1, x2, y2] = [left, top, right, bottom]``,
as continuous coordinates. The MTCNN references treat them as inclusive pixel indices (their IoU
adds 1 to widths); samplegen does not add 1 here, which matches the dlib-derived files where the
same face is ``x y w h`` in WIDER form and ``x, x + w, y, y + h`` here.

Several lines of one image are grouped into one Record with N faces in first-seen order, so the
number of faces (10,000 in the CUHK train list) is the number of lines, not of records. A face
whose box has ``x2 <= x1`` or ``y2 <= y1`` is dropped (``zero_size``) together with its points.
"""
from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np

from samplegen.datasets.lines import expect_count, float_fields, numbered_tokens
from samplegen.datasets.paths import image_key, image_size_under
from samplegen.record import Dataset, FACE_CLASSES, NO_BOXES, NO_LABELS, Record, ZERO_SIZE, check_record
from samplegen.record_table import packed_records

_FIELDS = 1 + 4 + 10
POINTS = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
_LABELS = ("x1", "x2", "y1", "y2", *(f"{p}_{c}" for p in POINTS for c in "xy"))


def read_facepoints(path: Path, images_root: Path | None) -> Dataset:
    """Read a facial-point list into one Record per image with landmarks float32 [N, 5, 2].

    Args:
        path: the list file.
        images_root: folder the paths are relative to (sizes from image headers), or None.

    Raises:
        InputError: a line without 15 fields, a non-numeric value, a path escaping the root.
    """
    # Every line's 14 numbers in one array (float64, as parsed): a face's lines need not be
    # adjacent, so all are read before any record is built, and Python lists of floats would
    # cost ~700 bytes a line.
    values = array("d")
    lines_of: dict[str, list[int]] = {}
    images: dict[str, tuple[str, int]] = {}
    for index, (number, tokens) in enumerate(numbered_tokens(path)):
        expect_count(path, number, tokens, _FIELDS, "facial-point line (path x1 x2 y1 y2 + 5 points)")
        values.extend(float_fields(path, number, tokens[1:], "value", _LABELS))
        key = image_key(tokens[0], path, number)
        if key not in images:
            images[key] = (tokens[0], number)
            lines_of[key] = []
        lines_of[key].append(index)
    table = np.frombuffer(values, np.float64).reshape(-1, _FIELDS - 1) if values else np.zeros((0, _FIELDS - 1))
    records = packed_records(_record(key, image, *image_size_under(images_root, image, path, number),
                                     table[lines_of.pop(key)])
                             for key, (image, number) in images.items())
    return Dataset("facepoints", str(path), records, FACE_CLASSES)


def _record(key: str, image: str, width: int | None, height: int | None, rows: np.ndarray) -> Record:
    """The record of one image from its lines' numbers (float64 [k, 14]: x1 x2 y1 y2, 5 points)."""
    boxes = rows[:, [0, 2, 1, 3]].astype(np.float32)
    points = rows[:, 4:].astype(np.float32).reshape(-1, 5, 2)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    dropped = int((~keep).sum())
    record = Record(
        key=key, image=image, width=width, height=height,
        boxes=boxes[keep], labels=np.zeros(int(keep.sum()), np.int32), landmarks=points[keep],
        ignore=NO_BOXES, ignore_labels=NO_LABELS,   # shared read-only: the parent holds every record
        dropped={ZERO_SIZE: dropped} if dropped else {},
    )
    check_record(record)
    return record
