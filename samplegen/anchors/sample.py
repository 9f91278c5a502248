"""Samplers: mmdetection's RandomSampler budget rules with a documented, seeded numpy choice.

mmdetection draws with ``torch.randperm``, so which priors it picks cannot be reproduced
offline; the **counts** can, and are identical (reference-semantics C.6). samplegen's choice rule:
the positions ``rng.choice(len(candidates), k, replace=False)`` into the ascending candidate
indices, then sorted (mmdet's ``unique()``), with the per-image ``np.random.Generator`` passed in;
positives are drawn before negatives from the same generator. (``Generator.choice`` draws k of n
in O(k) for k << n; the earlier ``permutation(candidates)[:k]`` shuffled all ~250k FPN negatives
to keep 256, 10% of a labelling run.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from samplegen.anchors.assign.result import Assignment
from samplegen.anchors.config import SamplerParams
from samplegen.anchors.labels import FIRST_POSITIVE, NEGATIVE


@dataclass(frozen=True)
class Sample:
    """Sampled indices (ascending int64) into the assignment's priors."""

    pos_idx: np.ndarray
    neg_idx: np.ndarray

    def mask(self, num: int) -> np.ndarray:
        """bool [num]: True for every sampled prior."""
        out = np.zeros(num, dtype=bool)
        out[self.pos_idx] = True
        out[self.neg_idx] = True
        return out


def random_choice(candidates: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
    """All `candidates` if there are at most `num`, else a uniform subset of `num`; sorted."""
    if len(candidates) <= num:
        return candidates
    return candidates[np.sort(rng.choice(len(candidates), size=num, replace=False))]


def sample_random(assigned_gt: np.ndarray, params: SamplerParams, rng: np.random.Generator) -> Sample:
    """mmdetection ``RandomSampler.sample`` budget rule on an assignment (C.6, steps 2-4).

    1. ``n_pos = int(num * pos_fraction)``; positives (``assigned_gt >= 1``) are all kept if
       there are at most ``n_pos``, else ``n_pos`` are drawn.
    2. ``n_neg = num - len(pos)``; if ``neg_pos_ub >= 0`` it is capped at
       ``int(neg_pos_ub * max(1, len(pos)))``.
    3. NEGATIVE priors are all kept if there are at most ``n_neg``, else ``n_neg`` are drawn.
       IGNORE priors are never sampled. A shortage of positives is filled with negatives
       (step 2); a shortage of negatives is not filled.

    GTs as proposals (step 1 of C.6) are added beforehand with `add_gt_as_proposals`.

    Args:
        assigned_gt: int [N] in mmdet's encoding.
        params: num, pos_fraction, neg_pos_ub (``add_gt_as_proposals`` is not read here).
        rng: the image's generator; the only source of randomness.

    Returns:
        `Sample` with ascending pos/neg indices.
    """
    pos = random_choice(np.flatnonzero(assigned_gt >= FIRST_POSITIVE), int(params.num * params.pos_fraction), rng)
    num_neg = params.num - len(pos)
    if params.neg_pos_ub >= 0:
        num_neg = min(num_neg, int(params.neg_pos_ub * max(1, len(pos))))
    neg = random_choice(np.flatnonzero(assigned_gt == NEGATIVE), num_neg, rng)
    return Sample(pos, neg)


def sample_all(assigned_gt: np.ndarray) -> Sample:
    """mmdet ``PseudoSampler``: every positive and every negative."""
    return Sample(np.flatnonzero(assigned_gt >= FIRST_POSITIVE), np.flatnonzero(assigned_gt == NEGATIVE))


def add_gt_as_proposals(proposals: np.ndarray, gt_boxes: np.ndarray) -> np.ndarray:
    """float32 [G + N, 4]: the GT boxes **prepended** to the proposals (mmdet ``BaseSampler``).

    The assignment of the prepended rows is GT k -> ``k + 1`` with IoU 1 (`prepend_gt_assignment`).
    torchvision and detectron2 append them instead.
    """
    return np.concatenate([np.asarray(gt_boxes, np.float32).reshape(-1, 4),
                           np.asarray(proposals, np.float32).reshape(-1, 4)])


def neg_budget(num_pos: int, num_background: int, neg_pos_ratio: float) -> int:
    """SSD hard-negative budget ``min(ratio * num_pos, num_background)`` (mmdet ``SSDHead``, C.6).

    mmdet's candidates are the priors labelled background, i.e. every prior that is not
    positive (an IGNORE prior carries the background label with weight 0 and still counts).
    0 positives give a budget of 0. Which negatives are hardest needs the model's losses.
    """
    return int(min(neg_pos_ratio * num_pos, num_background))


def prepend_gt_assignment(assignment: Assignment, gt_labels: np.ndarray) -> Assignment:
    """The assignment of `add_gt_as_proposals` rows: GT k -> ``k + 1``, IoU 1, its label, then
    the proposals' own assignment (mmdet ``AssignResult.add_gt_``). Arrays grow to [G + N]."""
    labels = np.asarray(gt_labels, dtype=np.int32).reshape(-1)
    self_inds = np.arange(FIRST_POSITIVE, len(labels) + FIRST_POSITIVE, dtype=np.int32)
    return Assignment(np.concatenate([self_inds, assignment.assigned_gt]),
                      np.concatenate([np.ones(len(labels), np.float32), assignment.max_iou]),
                      np.concatenate([labels, assignment.labels]))
