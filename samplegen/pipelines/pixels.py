"""A record's pixels, as every job loads them: its file under the images root, checked against the
annotation (size, a pixel cap, symlinks leaving the root) before decoding; a problem is a counted
skip reason (`samplegen.engine.images`), never an exception."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from samplegen.datasets.image_size import image_size
from samplegen.datasets.paths import image_file
from samplegen.engine.images import load_image
from samplegen.record import Record


def record_pixels(record: Record, images_root: str | Path | None,
                  follow_symlinks: bool = False) -> tuple[np.ndarray | None, str | None]:
    """BGR uint8 [H, W, 3] pixels of `record`, or (None, skip reason)."""
    return load_image(image_file(images_root, record), (record.width, record.height), root=images_root,
                      follow_symlinks=follow_symlinks, header_size=image_size)
