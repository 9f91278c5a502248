"""The random draws of pos/part and landmark crops: side, centre jitter and top-left corner.

Two families of rules, chosen by configuration keys (`MtcnnConfig`), so that samplegen's own
conventions (D.1) and the public pipelines' (``--compat aittsmd|dface``, issue 15) are the same
code with different values. For a face of width ``w`` and height ``h`` (``w + 1``, ``h + 1`` with
``face_plus_one``: the references read boxes as inclusive pixel indices, AITTSMD
gen_12net_data.py:89-92), size range ``(lo, hi)`` and jitter ``j``:

* side, ``size_draw``: ``inclusive`` = uniform integer in ``[ceil(lo min), floor(hi max)]`` (D.1);
  ``randint`` = numpy's ``randint(int(lo min), ceil(hi max))``, high exclusive:
  ``[floor(lo min), ceil(hi max) - 1]`` (gen_12net_data.py:134);
* jitter, ``jitter_draw``: ``uniform`` = continuous in ``[-j w, j w]`` (D.1); ``randint`` = numpy's
  ``randint(-j w, j w)``, whose float bounds are truncated toward zero and whose high is exclusive:
  integers ``[-floor(j w), floor(j w) - 1]``, asymmetric, mean -0.5 (gen_12net_data.py:141-142);
  an attempt whose range is empty (``floor(j w) == 0``, i.e. ``w < 5`` for j = 0.2: the script's
  ``if w < 5: continue``, A:137) is skipped;
* top-left corner, ``center_rule``: ``nearest`` = ``floor(cx + dx - side / 2 + 0.5)`` with ``cx =
  (x1 + x2) / 2``, which equals Python 3's ``int(x1 + w'/2 + dx - size/2)`` of the references for
  integer ``dx`` (A:147); ``py2`` = Python 2 integer division, ``x1 + floor(w / 2) - floor(side /
  2) + dx`` (DFace gen_Pnet_train_data.py:119, which only runs under Python 2).

The draws are vectorised and always consume the generator in the same order (all sides, then
all ``dx``, then all ``dy``), whatever the rule, so each rule's result depends only on the seed.
"""
from __future__ import annotations

import numpy as np

from samplegen.mtcnn.config import MtcnnConfig

EPS = 1e-9  # float products like 0.8 * 15 land a hair off the integer; snap them to it


def face_extent(faces: np.ndarray, plus_one: bool) -> tuple[np.ndarray, np.ndarray]:
    """Widths and heights float64 [F] of faces [F, 4] (``+ 1`` each with `plus_one`)."""
    faces = np.asarray(faces, np.float64).reshape(-1, 4)
    one = 1.0 if plus_one else 0.0
    return faces[:, 2] - faces[:, 0] + one, faces[:, 3] - faces[:, 1] + one


def draw_sides(w: np.ndarray, h: np.ndarray, cfg: MtcnnConfig,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Square sides float64 [K] for faces of extent `w`, `h` [K], and bool [K] usable (side >= 1)."""
    lo_frac, hi_frac = cfg.size_range
    small, large = np.minimum(w, h), np.maximum(w, h)
    if cfg.size_draw == "randint":
        lo = np.floor(lo_frac * small + EPS)
        high = np.ceil(hi_frac * large - EPS)              # exclusive
        valid = high > lo
        side = rng.integers(lo.astype(np.int64), np.maximum(high, lo + 1).astype(np.int64))
        side = side.astype(np.float64)
        return side, valid & (side >= 1)
    lo = np.maximum(1, np.ceil(lo_frac * small - EPS))
    hi = np.maximum(lo, np.floor(hi_frac * large + EPS))
    side = rng.integers(lo.astype(np.int64), hi.astype(np.int64), endpoint=True).astype(np.float64)
    return side, np.ones(side.shape[0], bool)


def draw_jitter(extent: np.ndarray, cfg: MtcnnConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centre offsets float64 [K] along one axis of faces of extent [K], and bool [K] usable."""
    if cfg.jitter_draw == "randint":
        reach = np.floor(cfg.jitter * extent + EPS).astype(np.int64)
        offset = rng.integers(-reach, np.maximum(reach, 1)).astype(np.float64)
        return offset, reach > 0
    return rng.uniform(-cfg.jitter * extent, cfg.jitter * extent), np.ones(extent.shape[0], bool)


def top_left(x1: np.ndarray, x2: np.ndarray, extent: np.ndarray, offset: np.ndarray, side: np.ndarray,
             cfg: MtcnnConfig) -> np.ndarray:
    """Integer-valued top-left coordinate float64 [K] along one axis (`center_rule`).

    Args:
        x1, x2: the faces' low and high coordinates along the axis; extent: their drawn extent
            (`face_extent`); offset: the jitter; side: the squares' sides.
    """
    if cfg.center_rule == "py2":
        return np.floor(x1 + np.floor(extent / 2) - np.floor(side / 2) + offset)
    return np.floor((x1 + x2) / 2 + offset - side / 2 + 0.5)


def negative_corners(limit: int, side: np.ndarray, cfg: MtcnnConfig, rng: np.random.Generator) -> np.ndarray:
    """int64 [n] corners of random negatives along an axis of length `limit`: ``[0, limit - side]``
    (``neg_draw: inclusive``) or numpy's ``randint(0, limit - side)``: ``[0, limit - side - 1]``."""
    return rng.integers(0, limit - side, endpoint=cfg.neg_draw != "randint")
