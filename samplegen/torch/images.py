"""Crops as network inputs: channel order and normalisation, each one named argument.

Every samplegen MTCNN layout stores or decodes crops as uint8 [S, S, 3] in **BGR** order (OpenCV's:
packed arrays are cut by OpenCV, ``wds``/``list`` PNG or JPEG files decode with `cv2.imdecode`).
The datasets here return CHW tensors in the order asked for (``channels="bgr"`` keeps it, as
AITTSMD, DFace and other OpenCV-based MTCNN trainers expect; ``"rgb"`` flips it), so switching
layouts never swaps channels.

Normalisations (``normalize=``):

- ``"mtcnn"``: float32 ``(x - 127.5) / 128``, the MTCNN trainers' (AITTSMD ``read_tfrecord_v2``,
  DFace ``convert_image_to_tensor`` + transform), values in about [-1, 1];
- ``"unit"``: float32 ``x / 255`` (torchvision's ``ToTensor``);
- ``"none"``: the uint8 values unchanged.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

CHANNELS = ("bgr", "rgb")


def _mtcnn(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) - np.float32(127.5)) / np.float32(128.0)


def _unit(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(255.0)


def _none(x: np.ndarray) -> np.ndarray:
    return x


NORMALIZE: dict[str, Callable[[np.ndarray], np.ndarray]] = {"mtcnn": _mtcnn, "unit": _unit, "none": _none}
"""Normalisation name -> function over uint8 [..., S, S, 3] arrays (the only name table)."""


def check_image_options(normalize: str, channels: str) -> None:
    """Raise ValueError naming the allowed values when `normalize` or `channels` is unknown."""
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {sorted(NORMALIZE)}, got {normalize!r}")
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}, got {channels!r}")


def to_chw(images: np.ndarray, normalize: str, channels: str, stored: str = "bgr") -> torch.Tensor:
    """uint8 [..., S, S, 3] crops -> a contiguous [..., 3, S, S] tensor in `channels` order.

    Args:
        images: uint8 [S, S, 3] or [B, S, S, 3] in `stored` order.
        normalize: a key of `NORMALIZE`.
        channels: the order wanted, ``"bgr"`` or ``"rgb"``.
        stored: the order of `images` (``"bgr"``: packed arrays and OpenCV decodes); the channel
            axis is reversed when it differs from `channels`.

    Returns:
        float32 (``"mtcnn"``, ``"unit"``) or uint8 (``"none"``) tensor, channels first.
    """
    if channels != stored:
        images = images[..., ::-1]
    values = NORMALIZE[normalize](np.asarray(images))
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(values, -1, -3)))
