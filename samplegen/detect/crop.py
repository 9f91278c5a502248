"""RNet's inputs: the image window of each stage-1 box, zero-padded outside the image, resized.

Both references cut a window of ``tmpw = int(x2 - x1 + 1)`` by ``tmph`` pixels whose origin is
``int(x1) + offset`` (ipazc indexes 0-based boxes 1-based, offset -1; AITTSMD 0), fill the
part outside the image with zeros (their ``pad`` bookkeeping: ``dx, edx, x, ex``), and resize it
to the net's input size. ipazc does this in float64 (``np.zeros`` buffer, float64 resize),
AITTSMD in uint8 (the resize rounds); both are reproduced because RNet's float32 scores tie,
and a one-ulp change of an input can reorder NMS.
"""
from __future__ import annotations

import cv2
import numpy as np

from samplegen.detect.config import CropConfig
from samplegen.detect.pyramid import INTERPOLATIONS


def crop_windows(boxes: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel windows of boxes: origin ``(x0, y0)`` and size ``(w, h)``, int64 [N] each.

    ``x0 = trunc(x1) + offset``, ``w = trunc(x2 - x1 + 1)`` (the references' ``astype(np.int32)``);
    the window covers columns ``x0 .. x0 + w - 1``. Sizes below 1 mean an empty (degenerate) box.
    """
    x0 = np.trunc(boxes[:, 0]).astype(np.int64) + offset
    y0 = np.trunc(boxes[:, 1]).astype(np.int64) + offset
    w = np.trunc(boxes[:, 2] - boxes[:, 0] + 1).astype(np.int64)
    h = np.trunc(boxes[:, 3] - boxes[:, 1] + 1).astype(np.int64)
    return x0, y0, w, h


def cut_window(image: np.ndarray, x0: int, y0: int, w: int, h: int, out: np.ndarray | None = None) -> np.ndarray:
    """The [h, w, 3] window at ``(x0, y0)`` of `image`, zeros where it leaves the image.

    Without `out`, a window inside the image is returned as a view and one crossing the border
    as a new zero-padded uint8 array. With `out` (an [h, w, 3] buffer, e.g. float64) the window
    is written into it, converted; this is how the float64 path reuses one scratch buffer
    instead of allocating (and page-faulting) a large array per box. Requires ``w, h >= 1``.
    """
    height, width = image.shape[:2]
    xa, xb = max(x0, 0), min(x0 + w, width)
    ya, yb = max(y0, 0), min(y0 + h, height)
    inside = xa == x0 and ya == y0 and xb == x0 + w and yb == y0 + h
    if out is None:
        if inside:
            return image[ya:yb, xa:xb]
        out = np.zeros((h, w, image.shape[2]), image.dtype)
    elif not inside:
        out.fill(0)
    if xa < xb and ya < yb:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = image[ya:yb, xa:xb]
    return out


def rnet_crops(image: np.ndarray, boxes: np.ndarray, size: int, cfg: CropConfig,
               mean: float, scale: float, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised RNet inputs for the boxes that have a non-empty window.

    Args:
        image: uint8 [H, W, 3] in the nets' channel order.
        boxes: float64 [N, 4].
        size: RNet input side.
        cfg: `CropConfig` (offset, precision, interpolation).
        mean, scale: ``(p - mean) * scale`` for the float64 path, computed in float64.
        lut: float32 [256], the same normalisation for the uint8 path (`layout.pixel_lut`).

    Returns:
        ``(crops, kept_idx)``: float32 [K, size, size, 3] in image order, and int64 [K] indices of
        the boxes they belong to (boxes with width or height < 1 px have no crop: the references
        would fail on them).
    """
    x0, y0, w, h = crop_windows(boxes, cfg.offset)
    kept_idx = np.flatnonzero((w >= 1) & (h >= 1))
    channels = image.shape[2]
    as_float = cfg.precision == "float64"
    resized = np.empty((kept_idx.size, size, size, channels), np.float64 if as_float else np.uint8)
    if kept_idx.size == 0:
        return np.empty(resized.shape, np.float32), kept_idx
    scratch = np.empty(int((w[kept_idx] * h[kept_idx]).max()) * channels, np.float64) if as_float else None
    flag = INTERPOLATIONS[cfg.interpolation]
    # One cv2.resize per box is the floor here: OpenCV has no batched resize of differently
    # sized windows; the per-box Python work is only the window bounds.
    for k, i in enumerate(kept_idx.tolist()):
        bx, by, bw, bh = int(x0[i]), int(y0[i]), int(w[i]), int(h[i])
        out = scratch[:bw * bh * channels].reshape(bh, bw, channels) if as_float else None
        resized[k] = cv2.resize(cut_window(image, bx, by, bw, bh, out), (size, size), interpolation=flag)
    if not as_float:
        return cv2.LUT(resized.reshape(-1, size * channels), lut).reshape(resized.shape), kept_idx
    resized -= mean
    resized *= scale
    return resized.astype(np.float32), kept_idx
