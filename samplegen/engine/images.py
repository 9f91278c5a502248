"""Loading source pixels in workers, and the reasons an image is skipped (counted, not raised)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MISSING = "missing"          # no file at the image's path
UNDECODABLE = "undecodable"  # a file OpenCV cannot decode
NO_SIZE = "no_size"          # neither the annotation nor the image header gave a size


def load_image(path: Path) -> tuple[np.ndarray | None, str | None]:
    """BGR uint8 [H, W, 3] pixels, or (None, reason) with reason MISSING or UNDECODABLE."""
    if not path.is_file():
        return None, MISSING
    data = np.fromfile(str(path), np.uint8)
    # Pixels as stored, like the header sizes readers use: applying EXIF rotation here would make
    # a rotated JPEG's pixels disagree with its annotation's width, height and boxes.
    pixels = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION) if data.size else None
    if pixels is None:
        return None, UNDECODABLE
    return pixels, None
