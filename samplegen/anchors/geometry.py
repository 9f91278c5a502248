"""Network-input geometry: how a method resizes and pads an image, and its feature-map sizes.

Reproduces mmdetection 3.3.0's training pipeline without touching pixels (reference-semantics
C.2): ``Resize(scale=(1333, 800), keep_ratio=True)`` sizes the image with mmcv's ``rescale_size``
/ ``_scale_size``; ``DetDataPreprocessor(pad_size_divisor=32)`` pads at the bottom and right;
ResNet/FPN feature maps are ``ceil(pad / stride)``. SSD warps to its square input with
``keep_ratio=False`` and uses fixed feature maps. GT boxes are rescaled by the float32
per-axis scale factor and clipped to the resized image (``clip_object_border=True``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class InputGeometry:
    """One image as the network sees it.

    Attributes:
        img_shape: (h, w) after resizing.
        pad_shape: (h, w) after padding to the size divisor (bottom/right padding).
        scale_factor: (w_scale, h_scale) = (new_w / w, new_h / h), as mmdet records it.
        featmap_sizes: (H_l, W_l) per level.
    """

    img_shape: tuple[int, int]
    pad_shape: tuple[int, int]
    scale_factor: tuple[float, float]
    featmap_sizes: tuple[tuple[int, int], ...]


def keep_ratio_size(width: int, height: int, scale: tuple[int, int]) -> tuple[int, int]:
    """(new_w, new_h) of mmcv ``rescale_size((w, h), scale)`` for a keep-ratio resize.

    ``s = min(max(scale) / max(h, w), min(scale) / min(h, w))`` and each side is
    ``int(side * s + 0.5)`` (mmcv ``_scale_size``). 640x480 -> (1067, 800).
    """
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return int(width * float(factor) + 0.5), int(height * float(factor) + 0.5)


def padded_size(size: int, divisor: int) -> int:
    """``ceil(size / divisor) * divisor`` (mmdet ``DetDataPreprocessor``/``Pad``)."""
    return int(math.ceil(size / divisor)) * divisor


def stride_featmap_sizes(pad_shape: tuple[int, int], strides: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """``(ceil(H_pad / s), ceil(W_pad / s))`` per stride: stride-2 convolutions round up.

    800x1344 on strides 4..128 gives 200x336, 100x168, 50x84, 25x42, 13x21, 7x11.
    """
    return tuple((int(math.ceil(pad_shape[0] / s)), int(math.ceil(pad_shape[1] / s))) for s in strides)


def keep_ratio_geometry(width: int, height: int, scale: tuple[int, int], pad_divisor: int,
                        strides: Sequence[int]) -> InputGeometry:
    """Geometry of the keep-ratio resize + pad used by Faster R-CNN, RetinaNet and FCOS.

    Examples (w x h -> padded h x w): 640x480 -> 800x1088, 1024x683 -> 800x1216,
    427x640 -> 1216x800.
    """
    new_w, new_h = keep_ratio_size(width, height, scale)
    pad = (padded_size(new_h, pad_divisor), padded_size(new_w, pad_divisor))
    return InputGeometry((new_h, new_w), pad, (new_w / width, new_h / height),
                         stride_featmap_sizes(pad, strides))


def warp_geometry(width: int, height: int, size: tuple[int, int],
                  featmap_sizes: Sequence[Sequence[int]]) -> InputGeometry:
    """Geometry of SSD's ``Resize(scale=size, keep_ratio=False)``: no padding, fixed maps.

    `size` is (w, h), e.g. (300, 300); `featmap_sizes` are the network's fixed maps, e.g.
    (38, 19, 10, 5, 3, 1) given as (H, W) pairs.
    """
    new_w, new_h = size
    maps = tuple((int(h), int(w)) for h, w in featmap_sizes)
    return InputGeometry((new_h, new_w), (new_h, new_w), (new_w / width, new_h / height), maps)


def scale_boxes(boxes: np.ndarray, geometry: InputGeometry, clip: bool) -> np.ndarray:
    """Boxes float32 [N, 4] in original pixels -> network-input pixels, float32 [N, 4].

    ``boxes * float32([w_scale, h_scale, w_scale, h_scale])`` (mmdet ``HorizontalBoxes.rescale_``),
    then, with `clip`, x clamped to [0, img_w] and y to [0, img_h] (``clip_object_border``).
    """
    factors = np.array(geometry.scale_factor * 2, dtype=np.float32)
    out = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * factors
    if clip:
        h, w = geometry.img_shape
        out[:, 0::2] = np.clip(out[:, 0::2], np.float32(0), np.float32(w))
        out[:, 1::2] = np.clip(out[:, 1::2], np.float32(0), np.float32(h))
    return out


def geometry_arrays(g: InputGeometry, gt_boxes: np.ndarray, gt_labels: np.ndarray) -> dict[str, np.ndarray]:
    """The per-image arrays every method writes: ``img_shape``, ``pad_shape`` int32 [2] (h, w),
    ``scale_factor`` float64 [2] (w, h), and the GTs in network-input pixels."""
    return {"img_shape": np.array(g.img_shape, np.int32), "pad_shape": np.array(g.pad_shape, np.int32),
            "scale_factor": np.array(g.scale_factor, np.float64), "gt_boxes": gt_boxes, "gt_labels": gt_labels}
