"""Loading source pixels in workers; a missing or undecodable image is a counted skip, not an error."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from samplegen.datasets.paths import image_key

MISSING = "missing"
UNDECODABLE = "undecodable"


DEFAULT_EXT = ".jpg"


def image_path(images_root: str | None, image: str) -> Path:
    """Where image `image` (as written in the annotation) lives; backslashes become '/'.

    A path written without an extension gets ``.jpg``: the one-line AITTSMD/Seanlinx WIDER lists
    write ``0--Parade/0_Parade_marchingband_1_849`` for a JPEG (reference-semantics A.2). Readers
    already refused paths escaping the root when they read the annotation.
    """
    relative = image_key(image)
    if not PurePosixPath(relative).suffix:
        relative += DEFAULT_EXT
    return Path(images_root) / relative if images_root else Path(relative)


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
