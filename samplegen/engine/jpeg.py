"""JPEG decoding through libjpeg-turbo's own API (`simplejpeg`, optional), pixel-identical to OpenCV.

``cv2.imdecode`` already links a libjpeg-turbo, but pays for OpenCV's generic codec layer (a
per-call decoder object, a stream wrapper, a colour-conversion pass). `simplejpeg` decodes
straight into a BGR buffer with the same integer DCT (``JDCT_ISLOW``, ``fastdct=False``) and the
same "fancy" chroma upsampling (``fastupsample=False``) OpenCV uses, so the pixels are the same
(tests/engine/test_jpeg.py checks it on the real photos of the shared data).

`decode` returns None whenever it cannot promise that, and the caller falls back to OpenCV:
an image whose header declares more than `samplegen.engine.images.MAX_PIXELS` pixels (OpenCV,
run with that limit, refuses it before allocating; libjpeg-turbo would not),
`simplejpeg` not installed (``pip install 'samplegen[jpeg]'``), not a JPEG (PNG, BMP, ...), a
colour space other than YCbCr / grayscale (CMYK and YCCK: OpenCV inverts and converts them its
own way), a precision libjpeg-turbo's 8-bit path refuses (12-bit), or any decoding error (a
damaged file gets OpenCV's verdict, so a skip reason stays the same). EXIF orientation is never
applied, as with ``cv2.IMREAD_IGNORE_ORIENTATION``.
"""
from __future__ import annotations

import cv2
import numpy as np

try:  # optional: ``pip install 'samplegen[jpeg]'``
    import simplejpeg
except ImportError:  # pragma: no cover - exercised only without the extra
    simplejpeg = None

SOI = b"\xff\xd8"
"""The start-of-image marker every JPEG file begins with."""
PLAIN_COLOURSPACES = ("YCbCr", "Gray")
"""JPEG colour spaces decoded here; others (CMYK, YCCK) go to OpenCV."""


def available() -> bool:
    """Whether the libjpeg-turbo path is installed."""
    return simplejpeg is not None


def decode(data: bytes | np.ndarray) -> np.ndarray | None:
    """uint8 [H, W, 3] BGR pixels of a JPEG, or None when OpenCV should decode it (module docstring).

    Args:
        data: the whole file's bytes (or a uint8 array of them, as ``np.fromfile`` gives).
    """
    if simplejpeg is None:
        return None
    buffer = data.tobytes() if isinstance(data, np.ndarray) else data
    if buffer[:2] != SOI:
        return None
    from samplegen.engine.images import MAX_PIXELS  # here: images imports this module

    try:
        height, width, colourspace, _ = simplejpeg.decode_jpeg_header(buffer)
        if colourspace not in PLAIN_COLOURSPACES or height * width > MAX_PIXELS:
            return None
        pixels = simplejpeg.decode_jpeg(buffer, colorspace="BGR", fastdct=False, fastupsample=False)
    except (ValueError, RuntimeError):
        return None
    return pixels if pixels.ndim == 3 and pixels.shape[2] == 3 else None


STORED_PIXELS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
"""The only ``cv2.imdecode`` flags `imdecode` serves itself: colour, EXIF orientation ignored."""


def imdecode(data: np.ndarray, flags: int) -> np.ndarray | None:
    """``cv2.imdecode(data, flags)``, through `decode` when `flags` are `STORED_PIXELS` and it can
    (same pixels, faster); raises what ``cv2.imdecode`` raises for the files it decodes."""
    if flags == STORED_PIXELS:
        pixels = decode(data)
        if pixels is not None:
            return pixels
    return cv2.imdecode(data, flags)
