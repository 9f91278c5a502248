"""The assignment encoding shared by every anchor / point method (mmdetection's `AssignResult`).

Per prior (anchor or point) ``assigned_gt`` holds:

* ``NEGATIVE`` (0): background, a negative sample;
* ``IGNORE`` (-1): neither positive nor negative (between the IoU thresholds, inside an ignore
  region, outside the allowed border), never sampled;
* ``k + 1`` for k >= 0: positive, matched to ground-truth box k (**1-based**, so the gt index of a
  positive is ``assigned_gt - 1``; `gt_index_of` does the conversion).

``labels`` holds the class of the matched GT for positives and ``NO_LABEL`` (-1) everywhere else.
This is mmdetection 3.3.0's encoding (reference-semantics C.1/C.5); torchvision results are
translated into it (`samplegen.anchors.assign`).
"""
from __future__ import annotations

import numpy as np

NEGATIVE = 0
IGNORE = -1
NO_LABEL = -1
FIRST_POSITIVE = 1  # assigned_gt of a positive matched to gt 0


def gt_index_of(assigned_gt: np.ndarray) -> np.ndarray:
    """0-based gt indices [P] of the positive entries of `assigned_gt` int [A]."""
    return assigned_gt[assigned_gt >= FIRST_POSITIVE] - FIRST_POSITIVE


def positive_mask(assigned_gt: np.ndarray) -> np.ndarray:
    """bool [A]: priors matched to some GT."""
    return assigned_gt >= FIRST_POSITIVE


def count_labels(arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """pos / neg / ignored priors of one image's arrays (and ``sampled``, where a sampler ran)."""
    assigned = arrays["assigned_gt"]
    counts = {"pos": int(positive_mask(assigned).sum()), "neg": int((assigned == NEGATIVE).sum()),
              "ignored": int((assigned == IGNORE).sum())}
    if "sampled" in arrays:
        counts["sampled"] = int(arrays["sampled"].sum())
    return counts
