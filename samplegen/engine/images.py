"""Loading source pixels in workers, and the reasons an image is skipped (counted, not raised).

Before decoding, `load_image` checks what the file system and the header say: a file reached
through a symlink that leaves the images root is refused (`OUTSIDE_ROOT`, unless
``follow_symlinks``), a header declaring more than `MAX_PIXELS` pixels is refused (`TOO_LARGE`:
an image bomb of a few hundred bytes can declare 50000 x 50000 and make the decoder allocate
gigabytes), and a size differing from the annotation's is refused (`SIZE_MISMATCH`: labels
computed for the annotated size would not describe the stored picture). The decoded size is
checked again, for formats whose header is not read. Pool workers also run OpenCV with
`MAX_PIXELS` as its own decoding limit (`samplegen.engine.distribute`).

The header reader is an argument (the jobs pass `samplegen.datasets.image_size.image_size`):
the engine does not import the readers' package.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from samplegen.engine import jpeg
from samplegen.locations import is_remote

HeaderSize = Callable[["Path | bytes"], "tuple[int, int] | None"]   # a file, or an object's bytes

MISSING = "missing"              # no file at the image's path
UNDECODABLE = "undecodable"      # a file OpenCV cannot decode
NO_SIZE = "no_size"              # neither the annotation nor the image header gave a size
SIZE_MISMATCH = "size_mismatch"  # the image's width x height differs from the annotation's
TOO_LARGE = "too_large"          # more than MAX_PIXELS pixels (header or decoded)
OUTSIDE_ROOT = "outside_root"    # a symlink leads outside the images root

# 2**27 = 134,217,728 pixels (e.g. 16384 x 8192; 384 MiB as decoded BGR): far above any
# detection dataset's photos (COCO <= 640 px, WIDER <= 2000 px), far below what would exhaust
# a worker's memory; OpenCV's own limit is 2**30.
MAX_PIXELS = 1 << 27


def inside_root(path: Path, root: Path) -> bool:
    """Whether `path`, every symlink resolved, lies inside `root` (itself resolved)."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, real_root]) == real_root


def _size_problem(size: tuple[int, int], expected: tuple[int | None, int | None] | None,
                  max_pixels: int) -> str | None:
    width, height = size
    if width * height > max_pixels:
        return TOO_LARGE
    if expected is not None and None not in expected and (width, height) != tuple(expected):
        return SIZE_MISMATCH
    return None


def load_image(path: Path | str, expected_size: tuple[int | None, int | None] | None = None, *,
               root: str | Path | None = None, follow_symlinks: bool = False,
               header_size: HeaderSize | None = None,
               max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray | None, str | None]:
    """BGR uint8 [H, W, 3] pixels, or (None, reason).

    Args:
        path: the image file, or the URL of an image object (``s3://...``, read whole;
            `samplegen.engine.object_inputs`).
        expected_size: (width, height) the annotation records; either None means unknown (no
            check). A different stored or decoded size gives `SIZE_MISMATCH`.
        root: the images root; with it, a path whose real location (symlinks resolved) is
            outside the root gives `OUTSIDE_ROOT` unless `follow_symlinks`.
        header_size: reads (width, height) from the file header, None when it cannot; with
            it, oversized and mismatching images are refused without decoding.
        max_pixels: width x height above which the image is `TOO_LARGE` (checked on the header
            before decoding, and on the decoded array).

    Returns:
        (pixels, None), or (None, reason) with reason `MISSING`, `UNDECODABLE`, `TOO_LARGE`,
        `SIZE_MISMATCH` or `OUTSIDE_ROOT`.
    """
    remote = is_remote(path)
    if remote:
        from samplegen.engine.object_inputs import read_object

        try:
            data = read_object(str(path))   # no symlinks in object storage: no root check
        except FileNotFoundError:
            return None, MISSING
        header = header_size(data) if header_size is not None else None
    else:
        path = Path(path)
        if root is not None and not follow_symlinks and not inside_root(path, Path(root)):
            return None, OUTSIDE_ROOT
        if not path.is_file():
            return None, MISSING
        header = header_size(path) if header_size is not None else None
    if header is not None:
        problem = _size_problem(header, expected_size, max_pixels)
        if problem is not None:
            return None, problem
    data = np.frombuffer(data, np.uint8) if remote else np.fromfile(str(path), np.uint8)
    # Pixels as stored, like the header sizes readers use: applying EXIF rotation here would make
    # a rotated JPEG's pixels disagree with its annotation's width, height and boxes.
    try:
        pixels = jpeg.imdecode(data, jpeg.STORED_PIXELS) if data.size else None   # OpenCV's pixels
    except cv2.error as exc:
        # OpenCV asserts on images above its own pixel limit (formats without a header check).
        return None, TOO_LARGE if "validateInputImageSize" in str(exc) else UNDECODABLE
    except MemoryError:
        return None, TOO_LARGE
    if pixels is None:
        return None, UNDECODABLE
    problem = _size_problem((pixels.shape[1], pixels.shape[0]), expected_size, max_pixels)
    return (None, problem) if problem is not None else (pixels, None)
