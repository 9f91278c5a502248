"""One-line-per-image WIDER variants used by the MTCNN repositories (reference-semantics A.2).

``PATH x1 y1 x2 y2 [x1 y1 x2 y2 ...]``, whitespace separated:

* DFace ``wider_origin_anno.txt``: the path includes ``.jpg``, values are truncated integers, and
  a zero-face image is written ``0 0 0 0``;
* AITTSMD / Seanlinx ``wider_face_train.txt``: the path has no extension (the image is
  ``PATH.jpg``), values are ``%.2f`` floats.

Both are read the same way: the values are taken as continuous ``x1 y1 x2 y2`` as given. The key
and ``Record.image`` keep the path as written (backslashes -> ``/`` in the key); only when the
image is looked up under `images_root` is ``.jpg`` appended to a path without extension. A box
with ``x2 <= x1`` or ``y2 <= y1`` (including DFace's ``0 0 0 0`` placeholder) is dropped with
reason ``zero_size``. The column-major ``x.. y.. w.. h..`` variant is not this format.
"""
from __future__ import annotations

import posixpath

from pathlib import Path

import numpy as np

from samplegen.datasets.lines import duplicate_error, float_fields, numbered_tokens
from samplegen.datasets.paths import image_key, image_size_under
from samplegen.errors import InputError
from samplegen.record import Dataset, FACE_CLASSES, Record, ZERO_SIZE, check_record

DEFAULT_EXT = ".jpg"


def read_wider_lines(path: Path, images_root: Path | None) -> Dataset:
    """Read a one-line-per-image box list into one Record per line, in file order.

    Args:
        path: the list file.
        images_root: folder the paths are relative to (sizes from image headers), or None.

    Returns:
        Dataset with class ``("face",)``; boxes float32 [N, 4] continuous x1 y1 x2 y2.

    Raises:
        InputError: a field count after the path that is not a multiple of 4, a non-numeric
            value, a duplicate image, a path escaping `images_root`.
    """
    records: list[Record] = []
    first_line: dict[str, int] = {}
    for number, tokens in numbered_tokens(path):
        image, values = tokens[0], tokens[1:]
        if len(values) % 4:
            raise InputError(path, number, f"{len(values)} values after the image path; "
                                           "expected x1 y1 x2 y2 groups (a multiple of 4)")
        key = image_key(image, path, number)
        if key in first_line:
            raise duplicate_error(path, number, key, first_line[key])
        first_line[key] = number
        boxes = np.array(float_fields(path, number, values, "box"), np.float64).reshape(-1, 4)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        dropped = int((~keep).sum())
        width, height = image_size_under(images_root, image, path, number, DEFAULT_EXT)
        record = Record(
            key=key, image=image, width=width, height=height,
            file=None if posixpath.splitext(key)[1] else key + DEFAULT_EXT,
            boxes=boxes[keep].astype(np.float32), labels=np.zeros(int(keep.sum()), np.int32),
            dropped={ZERO_SIZE: dropped} if dropped else {},
        )
        check_record(record)
        records.append(record)
    return Dataset("wider-lines", str(path), records, FACE_CLASSES)
