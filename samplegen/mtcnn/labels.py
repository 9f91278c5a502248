"""MTCNN class codes, class names and the bounding-box regression target.

The codes are the MTCNN list convention used by every public generator and trainer
(reference-semantics B.1): ``1`` positive, ``0`` negative, ``-1`` part face, ``-2`` landmark.
Code elsewhere in samplegen names them (``POS``, ``NEG``, ...) and never writes the bare numbers.

Counts, ratios and balancing always use the column order of `CLASS_ORDER`:
``pos, neg, part, landmark`` (the order of the ratio ``1:3:1:2`` in issue 3 and B.1).
"""
from __future__ import annotations

import numpy as np

POS = 1
NEG = 0
PART = -1
LANDMARK = -2

CLASS_ORDER: tuple[int, int, int, int] = (POS, NEG, PART, LANDMARK)
"""Class codes in the column order of counts and ratios: pos, neg, part, landmark."""

CLASS_NAMES: dict[int, str] = {POS: "pos", NEG: "neg", PART: "part", LANDMARK: "landmark"}
"""Class code -> name used in JSON outputs and configuration (``ratio_base: pos``)."""

CLASS_CODES: dict[str, int] = {name: code for code, name in CLASS_NAMES.items()}

# Facial points are (left eye, right eye, nose, left mouth corner, right mouth corner), "left"
# meaning image-left (A.6). A horizontal mirror turns the image-left eye into the image-right one,
# so the indices swap 0<->1 and 3<->4 (B.5 step 4).
MIRROR_POINT_ORDER: tuple[int, int, int, int, int] = (1, 0, 2, 4, 3)


def regression_targets(crops: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Offsets from square crops to their matched faces, in units of the crop side.

    ``roi = ((gx1 - x1) / side, (gy1 - y1) / side, (gx2 - x2) / side, (gy2 - y2) / side)``
    (issue 3, B.3 step 6), with ``side = x2 - x1`` of the half-open crop (D.1: one convention,
    no +1). The face is recovered exactly as ``crop + roi * side``. A non-square crop (the
    references' GT landmark sample, ``center_shape: face_box``) divides x offsets by its width
    and y offsets by its height.

    Args:
        crops: float [K, 4] crop boxes x1 y1 x2 y2 (square but for that one case).
        faces: float [K, 4] the matched face box of each crop.

    Returns:
        float32 [K, 4] regression targets (empty [0, 4] for K == 0).
    """
    crops = np.asarray(crops, np.float64).reshape(-1, 4)
    faces = np.asarray(faces, np.float64).reshape(-1, 4)
    sides = np.stack([crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]], 1)[:, [0, 1, 0, 1]]
    return ((faces - crops) / sides).astype(np.float32)


def mirror_roi(roi: np.ndarray) -> np.ndarray:
    """Regression targets of horizontally mirrored crops: ``(ox1, oy1, ox2, oy2) -> (-ox2, oy1, -ox1, oy2)``.

    Seanlinx's ``append_flipped_images`` mapping (B.5, D.1), for float [K, 4] -> float32 [K, 4].
    """
    roi = np.asarray(roi, np.float32).reshape(-1, 4)
    return np.stack([-roi[:, 2], roi[:, 1], -roi[:, 0], roi[:, 3]], axis=1).astype(np.float32)


def mirror_landmarks(points: np.ndarray) -> np.ndarray:
    """Normalised landmarks of horizontally mirrored crops: ``x -> 1 - x`` and the 0<->1, 3<->4 swap.

    Args:
        points: float [K, 5, 2] points normalised to their crop (0..1).

    Returns:
        float32 [K, 5, 2] in the mirrored crop, in the same semantic order (left eye first).
    """
    points = np.asarray(points, np.float32).reshape(-1, 5, 2)
    out = points[:, list(MIRROR_POINT_ORDER), :].copy()
    out[:, :, 0] = 1.0 - out[:, :, 0]
    return out
