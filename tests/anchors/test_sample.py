"""RandomSampler budget rules (reference-semantics C.6) with the seeded numpy choice."""
import numpy as np

from samplegen.anchors.assign import Assignment
from samplegen.anchors.config import SamplerParams
from samplegen.anchors.labels import IGNORE, NEGATIVE
from samplegen.anchors.sample import (add_gt_as_proposals, neg_budget, prepend_gt_assignment, random_choice,
                                      sample_all, sample_random)

RPN = SamplerParams("random", 256, 0.5, -1, False)


def _assigned(num_pos, num_neg, num_ignore):
    return np.array([1] * num_pos + [NEGATIVE] * num_neg + [IGNORE] * num_ignore, dtype=np.int32)


def test_budget_with_plenty_of_both():
    s = sample_random(_assigned(300, 5000, 50), RPN, np.random.default_rng(0))
    assert len(s.pos_idx) == 128 and len(s.neg_idx) == 128


def test_positive_shortage_is_filled_with_negatives():
    s = sample_random(_assigned(10, 5000, 0), RPN, np.random.default_rng(0))
    assert len(s.pos_idx) == 10 and len(s.neg_idx) == 246


def test_negative_shortage_is_not_filled():
    s = sample_random(_assigned(300, 20, 0), RPN, np.random.default_rng(0))
    assert len(s.pos_idx) == 128 and len(s.neg_idx) == 20


def test_neg_pos_upper_bound_uses_at_least_one_positive():
    params = SamplerParams("random", 512, 0.25, 3, False)
    assert len(sample_random(_assigned(0, 5000, 0), params, np.random.default_rng(0)).neg_idx) == 3
    assert len(sample_random(_assigned(10, 5000, 0), params, np.random.default_rng(0)).neg_idx) == 30


def test_ignored_are_never_sampled_and_indices_are_sorted():
    assigned = _assigned(5, 5, 100)
    s = sample_random(assigned, RPN, np.random.default_rng(0))
    assert (assigned[s.mask(len(assigned))] != IGNORE).all()
    big = sample_random(_assigned(300, 5000, 0), RPN, np.random.default_rng(1))
    assert (np.diff(big.pos_idx) > 0).all() and (np.diff(big.neg_idx) > 0).all()


def test_same_seed_same_choice():
    a = sample_random(_assigned(300, 5000, 0), RPN, np.random.default_rng(7))
    b = sample_random(_assigned(300, 5000, 0), RPN, np.random.default_rng(7))
    np.testing.assert_array_equal(a.neg_idx, b.neg_idx)


def test_random_choice_keeps_all_when_short():
    np.testing.assert_array_equal(random_choice(np.array([4, 9]), 5, np.random.default_rng(0)), [4, 9])


def test_pseudo_sampler_takes_every_positive_and_negative():
    s = sample_all(_assigned(2, 3, 4))
    assert s.pos_idx.tolist() == [0, 1] and s.neg_idx.tolist() == [2, 3, 4]


def test_gts_are_prepended_with_iou_one():
    props = np.array([[0, 0, 5, 5]], np.float32)
    gts = np.array([[1, 1, 4, 4], [2, 2, 3, 3]], np.float32)
    assert add_gt_as_proposals(props, gts).tolist() == [[1, 1, 4, 4], [2, 2, 3, 3], [0, 0, 5, 5]]
    a = prepend_gt_assignment(Assignment(np.array([0], np.int32), np.array([0.2], np.float32),
                                         np.array([-1], np.int32)), np.array([7, 8]))
    assert a.assigned_gt.tolist() == [1, 2, 0] and a.labels.tolist() == [7, 8, -1]
    assert a.max_iou.tolist() == [1.0, 1.0, np.float32(0.2)]


def test_ssd_negative_budget():
    assert neg_budget(10, 8000, 3) == 30
    assert neg_budget(10, 20, 3) == 20
    assert neg_budget(0, 8000, 3) == 0
