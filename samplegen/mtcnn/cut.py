"""Cut planned crops out of decoded pixels: the only module of `samplegen.mtcnn` that touches pixels.

Pixel convention (`samplegen.mtcnn.crop_plan`): a crop ``[x1, y1, x2, y2]`` is an integer square,
half-open: it takes rows ``y1 <= r < y2`` and columns ``x1 <= c < x2`` of the source, so a crop
inside the image is exactly ``image[y1:y2, x1:x2]``. The parts of a crop outside the image are
zeros (only with ``pad``; without it such a crop is a planning bug and raises). Every crop is
resized to ``size x size`` with ``cv2.INTER_LINEAR`` (issue 3 step 3), then flipped horizontally
when ``mirror`` (so the flip commutes exactly with the normalised ``x -> 1 - x`` of the targets).

Rotated rows (``angle != 0``) are cut from the image rotated by ``angle`` degrees about
``center`` with ``cv2.warpAffine`` (INTER_LINEAR, constant 0 border) into the same ``W x H``
frame. `landmarks.rotation_matrix` works in continuous coordinates (pixel ``i`` spans
``[i, i+1)``) while OpenCV addresses pixel centres at integers, so the warp rotates about
``center - 0.5``: the same rigid map. For speed, one warp serves all rows with the same
(angle, centre), and it only computes the top ``max y2`` rows of the frame, at full width.
Restricting the *width* is not exact: OpenCV splits columns into blocks whose size depends on the
destination width and interpolates block tails on a scalar path, which changes a few pixels by 1
near the right edge; restricting only the height leaves every computed pixel identical to a
full-frame warp (tests check the equality).
"""
from __future__ import annotations

import cv2
import numpy as np

from samplegen.mtcnn.landmarks import rotation_matrix
from samplegen.mtcnn.crop_plan import CropPlan


def crop_square(source: np.ndarray, x1: int, y1: int, side: int, pad: bool) -> np.ndarray:
    """``source[y1:y1+side, x1:x1+side]`` with zeros where the square leaves `source`.

    Args:
        source: uint8 [H, W, C].
        x1, y1, side: the integer square.
        pad: allow the square to leave `source`; otherwise that raises ValueError.

    Returns:
        uint8 [side, side, C] (a view when the square is inside `source`).
    """
    h, w = source.shape[:2]
    x2, y2 = x1 + side, y1 + side
    if x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h:
        return source[y1:y2, x1:x2]
    if not pad:
        raise ValueError(f"crop [{x1}, {y1}, {x2}, {y2}] leaves the {w}x{h} image and pad is off")
    out = np.zeros((side, side) + source.shape[2:], source.dtype)
    ix1, iy1, ix2, iy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    if ix1 < ix2 and iy1 < iy2:
        out[iy1 - y1:iy2 - y1, ix1 - x1:ix2 - x1] = source[iy1:iy2, ix1:ix2]
    return out


def rotate_frame(image: np.ndarray, center: np.ndarray, angle: float,
                 dsize: tuple[int, int] | None = None) -> np.ndarray:
    """The image rotated by `angle` degrees about continuous point `center` (x, y).

    Args:
        image: uint8 [H, W, C].
        center: float [2] in continuous pixel coordinates.
        angle: degrees, OpenCV convention (positive = counter-clockwise).
        dsize: ``(width, height)`` of the computed top-left part of the frame; None = ``(W, H)``.
            Only ``(W, h)`` is guaranteed pixel-identical to the full frame (module docstring).

    Returns:
        uint8 [dsize[1], dsize[0], C], zeros where no source pixel maps.
    """
    h, w = image.shape[:2]
    matrix = rotation_matrix(np.asarray(center, np.float64) - 0.5, angle)
    return cv2.warpAffine(image, matrix, dsize or (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _rotated_sources(image: np.ndarray, plan: CropPlan, rows: np.ndarray) -> dict:
    """One warped frame per distinct (angle, centre) among `rows`, covering all of their crops
    (full width, rows down to the lowest crop: see the module docstring)."""
    h, w = image.shape[:2]
    frames: dict = {}
    keys = [(float(plan.angle[i]), float(plan.center[i, 0]), float(plan.center[i, 1])) for i in rows]
    for key in dict.fromkeys(keys):
        members = [i for i, k in zip(rows, keys) if k == key]
        dh = int(min(h, max(1, plan.crop[members, 3].max())))
        frames[key] = rotate_frame(image, np.array(key[1:]), key[0], (w, dh))
    return {i: frames[k] for i, k in zip(rows, keys)}


def cut_crops(image: np.ndarray, plan: CropPlan, size: int, pad: bool) -> np.ndarray:
    """Pixels of every planned crop, resized to ``size x size``.

    Args:
        image: uint8 [H, W, 3] the decoded source image (BGR as decoded by OpenCV; channels are
            carried through untouched).
        plan: the rows to cut (`crop`, `angle`, `center`, `mirror` are used).
        size: output side S.
        pad: zero-pad crops that leave the image (rotated crops: that leave the ``W x H`` frame);
            without it such a row raises ValueError (the planner drops them).

    Returns:
        uint8 [K, size, size, 3], row k for plan row k.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
    out = np.empty((len(plan), size, size, 3), np.uint8)
    rotated = np.flatnonzero(plan.angle != 0)
    sources = _rotated_sources(image, plan, rotated) if rotated.shape[0] else {}
    h, w = image.shape[:2]
    boxes = plan.crop.astype(np.int64)
    for k in range(len(plan)):
        x1, y1, x2, _ = (int(v) for v in boxes[k])
        source = sources.get(k, image)
        if k in sources and not pad and (x1 < 0 or y1 < 0 or x2 > w or boxes[k, 3] > h):
            raise ValueError(f"rotated crop {boxes[k].tolist()} leaves the {w}x{h} frame and pad is off")
        patch = crop_square(source, x1, y1, x2 - x1, pad or k in sources)
        resized = cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)
        out[k] = cv2.flip(resized, 1) if plan.mirror[k] else resized
    return out
