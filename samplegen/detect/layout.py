"""Tensor layouts of the real MTCNN exports, and the conversions between them and image order.

Two layouts occur (shared ``models/README.md``): NCHW (PyTorch exports: input ``[N, 3, H, W]``,
PNet outputs ``[N, C, h, w]``) and NHWC with width and height swapped (Keras conversions of the
paper's Caffe weights, which ipazc/mtcnn feeds ``np.transpose(img[None], (0, 2, 1, 3))``: input
``[N, W, H, 3]``, PNet outputs ``[N, w, h, C]``). Everything outside this module works in image
order: ``[H, W, C]`` maps and ``[N, H, W, 3]`` batches.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from samplegen.detect.config import Layout
from samplegen.detect.onnx_signature import Dim

CHANNEL_AXIS: dict[Layout, int] = {"nchw": 1, "nhwc_swapped": 3}
"""Axis of the colour channels (inputs) and of the output channels (PNet maps)."""


def layout_of_input(dims: Sequence[Dim]) -> Layout | None:
    """The layout a 4-D input shape implies: 3 channels on axis 1 -> NCHW, on axis 3 -> NHWC.

    Returns None when the shape is not 4-D or both or neither axis holds 3 (ambiguous: the
    preset's ``input.layout`` has to say). NHWC is taken as the width/height-swapped Keras layout,
    the only NHWC export of these nets in use.
    """
    if len(dims) != 4:
        return None
    first, last = dims[1] == 3, dims[3] == 3
    if first == last:
        return None
    return "nchw" if first else "nhwc_swapped"


def spatial_dims(dims: Sequence[Dim], layout: Layout) -> tuple[Dim, Dim]:
    """``(height, width)`` of a 4-D input shape in `layout`."""
    return (dims[2], dims[3]) if layout == "nchw" else (dims[2], dims[1])


def image_to_blob(image: np.ndarray, lut: np.ndarray, layout: Layout) -> np.ndarray:
    """One uint8 image [H, W, 3] normalised through `lut` into a float32 input [1, ...] in `layout`.

    `lut` (float32 [256], `pixel_lut`) holds the reference's float64 normalisation rounded to
    float32, so a table look-up gives its values bit for bit; ``cv2.LUT`` and ``cv2.transpose``
    on uint8 are ~10x faster than numpy's gather and strided copy on a large level.
    """
    if layout == "nchw":
        blob = np.empty((1, 3) + image.shape[:2], np.float32)
        for c, plane in enumerate(cv2.split(image)):
            cv2.LUT(plane, lut, dst=blob[0, c])
        return blob
    return cv2.LUT(cv2.transpose(image), lut)[None]


def pixel_lut(mean: float, scale: float) -> np.ndarray:
    """float32 [256]: ``(p - mean) * scale`` computed in float64, then rounded to float32."""
    return ((np.arange(256, dtype=np.float64) - mean) * scale).astype(np.float32)


def batch_to_blob(batch: np.ndarray, layout: Layout) -> np.ndarray:
    """Images [N, H, W, 3] as a contiguous network input [N, ...] in `layout`."""
    if layout == "nchw":
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
    return np.ascontiguousarray(batch.transpose(0, 2, 1, 3))


def map_from_output(output: np.ndarray, layout: Layout) -> np.ndarray:
    """A PNet output map of image 0 in image order [h, w, C] (a view, no copy).

    Args:
        output: ``[N, C, h, w]`` (NCHW) or ``[N, w, h, C]`` (NHWC swapped).
    """
    if output.ndim != 4:
        raise ValueError(f"PNet output must be 4-D, got shape {output.shape}")
    if layout == "nchw":
        return output[0].transpose(1, 2, 0)
    return output[0].transpose(1, 0, 2)
