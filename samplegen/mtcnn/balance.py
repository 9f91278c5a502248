"""Global class balancing: choose, over the whole dataset, exactly the samples that meet the ratio.

Issue 3 step 2 and D.1 ("exact ratio from a base class"). Inputs are only per-image class counts
in a fixed image order (the engine sorts records by key), so the choice depends on the seed and
the planned counts, never on worker count or scheduling.

Samples of class ``c`` are numbered globally by *ordinal*: image 0's rows of class ``c`` in plan
order, then image 1's, ... The result holds, per class, the sorted chosen ordinals; `kept_rows`
turns them back into one image's plan rows.

Totals (ratio ``r`` of 4 non-negative integers in `CLASS_ORDER`, available counts ``a``):

* without duplicates: ``unit = min over r_c > 0 of floor(a_c / r_c)`` -- the scarcest class
  relative to its share sets the total -- and ``target_c = r_c * unit``, drawn without replacement;
* with duplicates: ``unit = floor(a_b / r_b)`` for the base class ``b`` (`ratio_base`, default pos), and a
  class with fewer than ``target_c`` samples takes all of them once plus
  ``target_c - a_c`` draws with replacement (reported as ``duplicates``). A class with
  ``a_c == 0`` and ``target_c > 0`` cannot be filled, so the unit becomes 0.

A class whose ratio share is 0 is not selected at all (e.g. landmarks when the run has no
landmark source: the caller sets that share to 0, or the whole selection would be empty).

Modes (``balance``, issue 15; `MODES`), all drawn here, in the parent, as ordinals:

* ``exact``: the rule above without duplicates (the default);
* ``oversample``: the rule above with duplicates, the unit being ``base`` (``--base N``:
  ``target_c = r_c * N``, AITTSMD's ``base_num``) or, without it, the base class's
  ``floor(a_b / r_b)`` (``allow_duplicates`` is its older spelling): without replacement first,
  with replacement only for what a class lacks;
* ``keep``: every planned sample once (``targets = available``); `batch_weights` then gives
  the per-sample weights that draw batches in the ratio;
* ``aittsmd``: gen_imglist_pnet.py:35-59 exactly, whose draws are *always* with replacement:
  pos and part ``r_c * base`` draws each (A:47-48), neg ``min(a_neg, r_neg * base)`` draws
  (A:43-46: 750,000 when more, else a bootstrap of its own size, so about 63 % of the
  negatives appear), landmarks every sample once (A:58-59). Issue 15's ``oversample`` rule
  ("without replacement first") gives other duplicate counts, hence a mode of its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samplegen.mtcnn.labels import CLASS_NAMES, CLASS_ORDER
from samplegen.rng import rng_for

BALANCE_KEY = "samplegen.mtcnn.balance"
"""Key of the balancing generators: ``rng_for(seed, BALANCE_KEY, stream=class column)``."""
PACK_SLICE = 1 << 16   # ordinals placed per step of `Balance.packed_ordinals` (bounded temporaries)
MODES = ("exact", "oversample", "keep", "aittsmd")
DUPLICATING_MODES = ("oversample", "aittsmd")
"""Modes that may select a sample more than once (their outputs mark each copy: `copy_index`)."""


@dataclass(frozen=True, eq=False)
class Balance:
    """The global selection.

    Attributes:
        offsets: int64 [I + 1, 4], ``offsets[i, c]`` = first global ordinal of image i, class c.
        chosen: 4 sorted int64 arrays (`CLASS_ORDER` columns) of chosen global ordinals; an
            ordinal appears more than once only when drawn with replacement.
        available: int64 [4] planned samples per class.
        targets: int64 [4] selected samples per class (``ratio * unit`` but in ``keep`` and
            ``aittsmd`` modes).
        duplicates: int64 [4] selections beyond the first of a sample.
        mode: the rule that chose them (`MODES`).
    """

    offsets: np.ndarray
    chosen: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    available: np.ndarray
    targets: np.ndarray
    duplicates: np.ndarray
    mode: str = "exact"

    def totals(self) -> dict[str, int]:
        """Selected samples per class name, e.g. ``{"pos": 10, "neg": 30, "part": 10, "landmark": 20}``."""
        return {CLASS_NAMES[code]: int(t) for code, t in zip(CLASS_ORDER, self.targets)}

    def ordinals(self, image: int) -> list[np.ndarray]:
        """Per class (`CLASS_ORDER`), the chosen ordinals *within* image `image` (sorted, int64)."""
        out = []
        for c in range(4):
            lo, hi = self.offsets[image, c], self.offsets[image + 1, c]
            chosen = self.chosen[c]
            part = chosen[np.searchsorted(chosen, lo, "left"):np.searchsorted(chosen, hi, "left")]
            out.append(part - lo)
        return out

    def packed_ordinals(self) -> tuple[np.ndarray, np.ndarray]:
        """Every image's `ordinals` in one array, for a parent that keeps them for a million images.

        Returns:
            values: int32 [selected], image by image, class by class (`CLASS_ORDER`), sorted
                within each run: the concatenation of ``ordinals(0)``, ``ordinals(1)``, ...
            ends: int64 [images, 4], where each image's class runs end in `values` (a run starts
                where the one before it ends). One array instead of four per image: a few bytes
                per selected sample rather than ~500 bytes of array headers per image.
        """
        images = self.offsets.shape[0] - 1
        # Each class's ordinals are scattered straight into their runs, a slice at a time: a
        # lexsort over every selected sample would hold ~1.9 KB of temporaries per image (the
        # parent's peak). `chosen` is sorted, so a run is a contiguous stretch of it.
        bounds = [np.searchsorted(chosen, self.offsets[:, c], "left") for c, chosen in enumerate(self.chosen)]
        counts = np.stack([np.diff(b) for b in bounds], axis=1) if images else np.zeros((0, 4), np.int64)
        ends = np.cumsum(counts.ravel(), dtype=np.int64).reshape(images, 4)
        starts = ends - counts
        del counts
        values = np.empty(int(ends[-1, 3]) if images else 0, np.int32)
        for c, chosen in enumerate(self.chosen):
            for first in range(0, chosen.shape[0], PACK_SLICE):
                part = chosen[first:first + PACK_SLICE]
                # Images without samples of class c repeat their successor's offset: "right" - 1
                # lands on the image that holds the ordinal.
                image = np.searchsorted(self.offsets[:, c], part, "right") - 1
                place = starts[image, c] + (np.arange(first, first + part.shape[0]) - bounds[c][image])
                values[place] = part - self.offsets[image, c]
        return values, ends

    def rows(self, image: int, cls: np.ndarray) -> np.ndarray:
        """int64 sorted row indices of image `image`'s plan (classes `cls` int8 [K]) that are kept."""
        return kept_rows(cls, self.ordinals(image))


def kept_rows(cls: np.ndarray, ordinals: list[np.ndarray]) -> np.ndarray:
    """Plan rows for per-class within-image ordinals.

    Args:
        cls: int8 [K] the image's plan classes (the same plan whose counts were balanced).
        ordinals: per class in `CLASS_ORDER`, int arrays of the k-th row of that class to keep.

    Returns:
        int64 [k] row indices, sorted (stable: a duplicated row appears consecutively).
    """
    rows = []
    for code, ords in zip(CLASS_ORDER, ordinals):
        members = np.flatnonzero(cls == code)
        if ords.shape[0] and ords.max() >= members.shape[0]:
            raise ValueError(f"class {CLASS_NAMES[code]}: ordinal {int(ords.max())} but only "
                             f"{members.shape[0]} rows; the plan differs from the balanced counts")
        rows.append(members[ords])
    return np.sort(np.concatenate(rows), kind="stable").astype(np.int64)


def copy_index(rows: np.ndarray) -> np.ndarray:
    """int32 [k]: for sorted plan `rows` (`kept_rows`), 0 for the first selection of a row and
    1, 2, ... for its further copies (the ``dup`` field of duplicating modes)."""
    rows = np.asarray(rows, np.int64)
    if rows.shape[0] == 0:
        return np.zeros(0, np.int32)
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, rows.shape[0]]))
    return (np.arange(rows.shape[0]) - first).astype(np.int32)


def batch_weights(available: np.ndarray, ratio: tuple[int, ...]) -> np.ndarray:
    """float64 [4] per-sample weights of each class that draw batches in `ratio` from a ``keep``
    output: ``r_c / a_c`` normalised so that the weights of all samples sum to 1 (0 where a class
    has no share or no sample). A weighted sampler (``torch.utils.data.WeightedRandomSampler``)
    with these weights expects ``batch * r_c / sum(r)`` samples of class c per batch."""
    available = np.asarray(available, np.float64)
    ratio_arr = np.asarray(ratio, np.float64) * (available > 0)
    if ratio_arr.sum() == 0:
        return np.zeros(4)
    weights = np.divide(ratio_arr, available, out=np.zeros(4), where=available > 0)
    return weights / ratio_arr.sum()


def class_targets(available: np.ndarray, ratio: tuple[int, ...], allow_duplicates: bool,
                  base: int = 0, per_unit: int | None = None) -> np.ndarray:
    """int64 [4] samples to select per class in the ``exact`` (no duplicates) and ``oversample``
    (`allow_duplicates`) modes; `base` is a `CLASS_ORDER` column, `per_unit` the ``base`` key."""
    ratio_arr = np.asarray(ratio, np.int64)
    if ratio_arr.shape != (4,) or (ratio_arr < 0).any() or ratio_arr.sum() == 0:
        raise ValueError(f"ratio must be 4 non-negative integers with a positive sum, got {ratio}")
    shared = ratio_arr > 0
    if allow_duplicates:
        unit = available[base] // ratio_arr[base] if ratio_arr[base] > 0 else 0
        if per_unit is not None:
            unit = per_unit
        if (available[shared] == 0).any():
            unit = 0
    else:
        unit = int((available[shared] // ratio_arr[shared]).min())
    return ratio_arr * int(unit)


def _draw(available: int, target: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted ordinals: `target` of `available` without replacement, or all plus extra draws."""
    if target <= available:
        picked = rng.choice(available, size=target, replace=False)
    else:
        picked = np.concatenate([np.arange(available), rng.integers(0, available, size=target - available)])
    return np.sort(picked).astype(np.int64)


def _aittsmd_draws(available: np.ndarray, ratio: tuple[int, ...], per_unit: int,
                   seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """gen_imglist_pnet.py's targets and sorted ordinals (module docstring)."""
    ratio_arr = np.asarray(ratio, np.int64)
    targets = ratio_arr * per_unit
    targets[1] = min(int(available[1]), int(targets[1]))   # neg: A:43-46
    targets[3] = available[3]                              # landmarks, once each: A:58-59
    targets[(ratio_arr == 0) | (available == 0)] = 0
    chosen = []
    for c in range(4):
        if c == 3:
            chosen.append(np.arange(targets[c], dtype=np.int64))
        else:
            rng = rng_for(seed, BALANCE_KEY, stream=c)
            chosen.append(np.sort(rng.integers(0, max(int(available[c]), 1), size=int(targets[c]))).astype(np.int64))
    return targets, chosen


def balance(counts: np.ndarray, ratio: tuple[int, ...], seed: int, allow_duplicates: bool = False,
            base: int = 0, *, mode: str | None = None, per_unit: int | None = None) -> Balance:
    """Choose the globally balanced samples.

    Args:
        counts: int [I, 4] planned samples per image (rows in the fixed image order, columns in
            `CLASS_ORDER`: pos, neg, part, landmark).
        ratio: 4 non-negative integers, pos : neg : part : landmark (e.g. ``(1, 3, 1, 2)``).
        seed: the run seed; class ``c`` draws from ``rng_for(seed, BALANCE_KEY, stream=c)``.
        allow_duplicates: fill short classes with replacement (otherwise the scarcest sets the
            total): ``mode="oversample"`` when `mode` is None.
        base: `CLASS_ORDER` column whose count sets the total when duplicates are allowed.
        mode: a name of `MODES` (module docstring); None: ``oversample`` with `allow_duplicates`,
            else ``exact``.
        per_unit: samples per ratio unit (the ``base`` key, ``--base``) for ``oversample`` (None:
            from the `base` class) and ``aittsmd`` (required).

    Returns:
        A `Balance`; in ``exact``/``oversample`` ``targets`` are exactly proportional to
        `ratio`. I == 0 selects nothing.
    """
    mode = mode or ("oversample" if allow_duplicates else "exact")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    counts = np.asarray(counts, np.int64).reshape(-1, 4)
    if (counts < 0).any():
        raise ValueError("counts must be non-negative")
    offsets = np.zeros((counts.shape[0] + 1, 4), np.int64)
    np.cumsum(counts, axis=0, out=offsets[1:])
    available = offsets[-1].copy()
    if mode == "keep":
        targets = available.copy()
        chosen = [np.arange(n, dtype=np.int64) for n in available]
    elif mode == "aittsmd":
        if per_unit is None:
            raise ValueError("the aittsmd mode needs per_unit (AITTSMD's base_num)")
        targets, chosen = _aittsmd_draws(available, ratio, per_unit, seed)
    else:
        targets = class_targets(available, ratio, mode == "oversample", base, per_unit)
        chosen = [_draw(int(available[c]), int(targets[c]), rng_for(seed, BALANCE_KEY, stream=c))
                  for c in range(4)]
    # chosen ordinals are sorted: a copy repeats its predecessor
    distinct = np.array([c.shape[0] - np.count_nonzero(c[1:] == c[:-1]) for c in chosen], np.int64)
    duplicates = targets - distinct
    return Balance(offsets, tuple(chosen), available, targets, duplicates, mode)  # type: ignore[arg-type]
