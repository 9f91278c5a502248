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

Two conventions of the public pipelines are reproduced on request (issue 15): with
``landmark_plus_one`` a landmark row cuts ``[x1, x2 + 1) x [y1, y2 + 1)`` (``(side + 1)^2``
pixels, clipped at the frame edge as numpy slicing clips) while its targets stay normalised by
the side; and a crop may be a non-square box (the references' GT landmark sample).
"""
from __future__ import annotations

from typing import Iterator, Sequence

import cv2
import numpy as np

from samplegen.mtcnn.labels import LANDMARK
from samplegen.mtcnn.landmarks import rotation_matrix
from samplegen.mtcnn.crop_plan import CropPlan


def crop_square(source: np.ndarray, x1: int, y1: int, side: int, pad: bool) -> np.ndarray:
    """``source[y1:y1+side, x1:x1+side]`` with zeros where the square leaves `source` (`crop_box`)."""
    return crop_box(source, x1, y1, x1 + side, y1 + side, pad)


def crop_box(source: np.ndarray, x1: int, y1: int, x2: int, y2: int, pad: bool, clip: bool = False) -> np.ndarray:
    """``source[y1:y2, x1:x2]`` with zeros where the box leaves `source`.

    Args:
        source: uint8 [H, W, C].
        x1, y1, x2, y2: the integer box (half-open).
        pad: allow the box to leave `source` (zeros there); otherwise that raises ValueError.
        clip: cut what numpy slicing gives instead (the part inside `source`, no zeros): the
            references' ``img[y1:y2+1, x1:x2+1]`` one pixel past the edge (``cut_plus_one``).

    Returns:
        uint8 [y2 - y1, x2 - x1, C] (a view when the box is inside `source`; smaller when clipped).
    """
    h, w = source.shape[:2]
    if x1 >= 0 and y1 >= 0 and x2 <= w and y2 <= h:
        return source[y1:y2, x1:x2]
    if clip and not pad and x1 >= 0 and y1 >= 0:
        return source[y1:min(y2, h), x1:min(x2, w)]
    if not pad:
        raise ValueError(f"crop [{x1}, {y1}, {x2}, {y2}] leaves the {w}x{h} image and pad is off")
    out = np.zeros((y2 - y1, x2 - x1) + source.shape[2:], source.dtype)
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


def _rotated_sources(image: np.ndarray, plan: CropPlan, rows: np.ndarray, extra: np.ndarray) -> dict:
    """One warped frame per distinct (angle, centre) among `rows`, covering all of their crops
    (full width, rows down to the lowest pixel cut: see the module docstring)."""
    h, w = image.shape[:2]
    frames: dict = {}
    keys = [(float(plan.angle[i]), float(plan.center[i, 0]), float(plan.center[i, 1])) for i in rows]
    for key in dict.fromkeys(keys):
        members = [i for i, k in zip(rows, keys) if k == key]
        dh = int(min(h, max(1, (plan.crop[members, 3] + extra[members]).max())))
        frames[key] = rotate_frame(image, np.array(key[1:]), key[0], (w, dh))
    return {i: frames[k] for i, k in zip(rows, keys)}


def crop_patches(image: np.ndarray, plan: CropPlan, pad: bool, landmark_plus_one: bool = False) -> Iterator[np.ndarray]:
    """The source pixels of every planned crop, in plan order, before resizing (views where possible).

    Args:
        image: uint8 [H, W, 3] the decoded source image.
        plan: the rows to cut (`crop`, `angle`, `center` are used).
        pad: zero-pad crops that leave the image (rotated crops: that leave the ``W x H`` frame);
            without it such a row raises ValueError (the planner drops them).
        landmark_plus_one: `LANDMARK` rows cut one more column and row, ``[x1, x2 + 1)``, clipped
            at the frame edge like numpy slicing (``landmark.cut_plus_one``, the references'
            ``img[ny1:ny2+1, nx1:nx2+1]``).

    Yields:
        uint8 [h, w, 3] per row.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 [H, W, 3], got {image.dtype} {image.shape}")
    extra = (plan.cls == LANDMARK).astype(np.int64) if landmark_plus_one else np.zeros(len(plan), np.int64)
    rotated = np.flatnonzero(plan.angle != 0)
    sources = _rotated_sources(image, plan, rotated, extra) if rotated.shape[0] else {}
    h, w = image.shape[:2]
    boxes = plan.crop.astype(np.int64)
    for k in range(len(plan)):
        x1, y1, x2, y2 = (int(v) for v in boxes[k])
        source = sources.get(k, image)
        if k in sources and not pad and (x1 < 0 or y1 < 0 or x2 > w or y2 > h):
            raise ValueError(f"rotated crop {boxes[k].tolist()} leaves the {w}x{h} frame and pad is off")
        e = int(extra[k])
        yield crop_box(source, x1, y1, x2 + e, y2 + e, pad or (k in sources and not e), clip=bool(e))


def resize_patch(patch: np.ndarray, size: int, mirror: bool) -> np.ndarray:
    """uint8 [size, size, 3]: `patch` resized (INTER_LINEAR), then flipped horizontally when `mirror`."""
    resized = cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)
    return cv2.flip(resized, 1) if mirror else resized


def cut_crops(image: np.ndarray, plan: CropPlan, size: int, pad: bool, landmark_plus_one: bool = False) -> np.ndarray:
    """Pixels of every planned crop, resized to ``size x size``.

    Args:
        image: uint8 [H, W, 3] the decoded source image (BGR as decoded by OpenCV; channels are
            carried through untouched).
        plan: the rows to cut (`crop`, `angle`, `center`, `mirror` are used).
        size: output side S.
        pad, landmark_plus_one: see `crop_patches`.

    Returns:
        uint8 [K, size, size, 3], row k for plan row k.
    """
    return cut_crops_sizes(image, plan, (size,), pad, landmark_plus_one)[0]


def cut_crops_sizes(image: np.ndarray, plan: CropPlan, sizes: Sequence[int], pad: bool,
                    landmark_plus_one: bool = False) -> list[np.ndarray]:
    """`cut_crops` at every size of `sizes` from one cut of each crop (``--size 12,24,48``):
    element i is exactly ``cut_crops(image, plan, sizes[i], ...)``."""
    outs = [np.empty((len(plan), s, s, 3), np.uint8) for s in sizes]
    for k, patch in enumerate(crop_patches(image, plan, pad, landmark_plus_one)):
        for out, s in zip(outs, sizes):
            out[k] = resize_patch(patch, s, bool(plan.mirror[k]))
    return outs
