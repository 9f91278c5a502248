"""Loading source pixels in workers; a missing or undecodable image is a counted skip, not an error."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MISSING = "missing"
UNDECODABLE = "undecodable"


def image_path(images_root: str | None, image: str) -> Path:
    """Where image `image` (as written in the annotation) lives; backslashes become '/'."""
    relative = image.replace("\\", "/")
    return Path(images_root) / relative if images_root else Path(relative)


def load_image(path: Path) -> tuple[np.ndarray | None, str | None]:
    """BGR uint8 [H, W, 3] pixels, or (None, reason) with reason MISSING or UNDECODABLE."""
    if not path.is_file():
        return None, MISSING
    data = np.fromfile(str(path), np.uint8)
    pixels = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if pixels is None:
        return None, UNDECODABLE
    return pixels, None
