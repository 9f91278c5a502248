"""AITTSMD's column-major WIDER list, ``wider_face_{train,val}.txt`` of AITTSMD/MTCNN-Tensorflow.

One line per image: ``PATH x1 .. xn y1 .. yn w1 .. wn h1 .. hn``, whitespace separated, the path
as in the official release with backslashes (``0--Parade\\0_Parade_marchingband_1_465.jpg``). It is
the official ``x y w h`` boxes written column by column (all x, then all y, all widths, all
heights), so the values of one image are a multiple of 4 like the row-major one-line lists, and
read as ``x1 y1 x2 y2`` groups (``--format wider-lines``) most boxes come out with ``x2 <= x1``:
that reader would drop ~73 % of the val file's boxes as ``zero_size``.

Boxes become continuous ``[x, y, x + w, y + h]`` as in `samplegen.datasets.wider`. A box with
``w <= 0`` or ``h <= 0`` is dropped (``zero_size``); that includes the ``0 0 0 0`` a zero-face
image is written with, so, as for the official file, ``boxes + dropped`` is the number of box
lines of the official release (39,708 for val). The file carries no ``invalid`` flags or other
attributes: every box with a size is a face.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from samplegen.datasets.lines import duplicate_error, float_fields, numbered_tokens
from samplegen.datasets.paths import image_key, image_size_under
from samplegen.errors import InputError
from samplegen.record import Dataset, FACE_CLASSES, Record, ZERO_SIZE, check_record

FORMAT = "wider-colmajor"


def read_wider_colmajor(path: Path, images_root: Path | None) -> Dataset:
    """Read a column-major one-line list into one Record per line, in file order.

    Args:
        path: the list file.
        images_root: ``WIDER_{split}/images`` (sizes from image headers), or None.

    Returns:
        Dataset with class ``("face",)``; boxes float32 [N, 4] continuous x1 y1 x2 y2.

    Raises:
        InputError: a value count after the path that is not a multiple of 4, a non-numeric or
            out-of-range value, a duplicate image, a path escaping `images_root`.
    """
    records: list[Record] = []
    first_line: dict[str, int] = {}
    for number, tokens in numbered_tokens(path):
        image, values = tokens[0], tokens[1:]
        if len(values) % 4:
            raise InputError(path, number, f"{len(values)} values after the image path; expected "
                                           "x1..xn y1..yn w1..wn h1..hn (a multiple of 4)")
        key = image_key(image, path, number)
        if key in first_line:
            raise duplicate_error(path, number, key, first_line[key])
        first_line[key] = number
        # Row k of the [4, n] array is x, y, w or h of every box: transposed, one box per row.
        xywh = np.array(float_fields(path, number, values, "value"), np.float64).reshape(4, -1).T
        keep = (xywh[:, 2] > 0) & (xywh[:, 3] > 0)
        xywh[:, 2:] += xywh[:, :2]
        dropped = int((~keep).sum())
        width, height = image_size_under(images_root, image, path, number)
        record = Record(
            key=key, image=image, width=width, height=height,
            boxes=xywh[keep].astype(np.float32), labels=np.zeros(int(keep.sum()), np.int32),
            dropped={ZERO_SIZE: dropped} if dropped else {},
        )
        check_record(record)
        records.append(record)
    return Dataset(FORMAT, str(path), records, FACE_CLASSES)
