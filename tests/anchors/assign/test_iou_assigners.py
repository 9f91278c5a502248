"""MaxIoUAssigner / torchvision Matcher rules, one short test per edge case (mmdet's test style).

Worked vectors are from reference-semantics C.5 (verified there against mmdet 3.3.0 and
torchvision 0.28); full-image parity is in test_golden.py.
"""
import numpy as np
import pytest

from samplegen.anchors.assign import (assign_max_iou, assign_tv_matcher, assign_tv_ssd_matcher,
                                      assign_wrt_overlaps, tv_match_wrt_overlaps)
from samplegen.anchors.assign.overlaps import ignored_priors
from samplegen.anchors.config import MaxIoUParams
from samplegen.anchors.labels import IGNORE, NEGATIVE, NO_LABEL

RPN = MaxIoUParams(0.7, 0.3, 0.3, True, True, -1.0, True)
SSD = MaxIoUParams(0.5, 0.5, 0.0, False, True, -1.0, True)
RCNN = MaxIoUParams(0.5, 0.5, 0.5, True, False, -1.0, True)
M = np.array([[0.60, 0.65, 0.10, 0.00], [0.50, 0.20, 0.10, 0.00]], dtype=np.float32)
PRIORS = np.array([[0, 0, 10, 10], [10, 10, 20, 20], [5, 5, 15, 15], [32, 32, 38, 38]], dtype=np.float32)
GTS = np.array([[0, 0, 10, 9], [0, 0, 11, 10]], dtype=np.float32)


def test_reference_vector_rpn_low_quality_overwrites():
    a = assign_wrt_overlaps(M, np.array([3, 4]), RPN)
    assert a.assigned_gt.tolist() == [2, 1, NEGATIVE, NEGATIVE]   # prior 0 is gt 1's best
    assert a.labels.tolist() == [4, 3, NO_LABEL, NO_LABEL]
    np.testing.assert_array_equal(a.max_iou, np.float32([0.6, 0.65, 0.1, 0.0]))


def test_reference_vector_ssd_forces_only_the_first_best_prior():
    assert assign_wrt_overlaps(M, np.array([0, 0]), SSD).assigned_gt.tolist() == [2, 1, 0, 0]


def test_ties_all_versus_argmax_only():
    ties = np.array([[0.4, 0.4, 0.1]], dtype=np.float32)
    assert assign_wrt_overlaps(ties, np.array([0]), RPN).assigned_gt.tolist() == [1, 1, NEGATIVE]
    only_first = MaxIoUParams(0.7, 0.3, 0.3, False, True, -1.0, True)
    assert assign_wrt_overlaps(ties, np.array([0]), only_first).assigned_gt.tolist() == [1, IGNORE, NEGATIVE]


def test_min_pos_iou_blocks_weak_low_quality_matches():
    weak = np.array([[0.268, 0.1]], dtype=np.float32)
    assert assign_wrt_overlaps(weak, np.array([0]), RPN).assigned_gt.tolist() == [NEGATIVE, NEGATIVE]


def test_later_gt_wins_a_shared_best_prior():
    shared = np.array([[0.5, 0.1], [0.5, 0.2]], dtype=np.float32)
    assert assign_wrt_overlaps(shared, np.array([0, 1]), RPN).assigned_gt.tolist() == [2, NEGATIVE]


def test_neg_interval_leaves_zero_overlap_ignored():
    params = MaxIoUParams(0.7, (0.05, 0.3), 0.3, True, False, -1.0, True)
    a = assign_wrt_overlaps(M[:1], np.array([0]), params)
    assert a.assigned_gt.tolist() == [IGNORE, IGNORE, NEGATIVE, IGNORE]


def test_rcnn_has_no_low_quality_step():
    assert assign_wrt_overlaps(M, np.array([0, 0]), RCNN).assigned_gt.tolist() == [1, 1, NEGATIVE, NEGATIVE]


def test_empty_gt_makes_everything_negative():
    a = assign_max_iou(PRIORS, np.zeros((0, 4), np.float32), np.zeros(0, np.int32), np.zeros((0, 4)), RPN)
    assert a.assigned_gt.tolist() == [NEGATIVE] * 4
    assert a.max_iou.tolist() == [0.0] * 4 and a.labels.tolist() == [NO_LABEL] * 4


def test_empty_priors_give_empty_arrays():
    a = assign_max_iou(np.zeros((0, 4), np.float32), GTS, np.array([1, 2]), np.zeros((0, 4)), RPN)
    assert a.assigned_gt.shape == (0,) and a.max_iou.dtype == np.float32


def test_gt_far_from_every_prior_with_min_pos_zero_floods_positives():
    far = np.array([[100, 100, 101, 101]], dtype=np.float32)
    retina = MaxIoUParams(0.5, 0.4, 0.0, True, True, -1.0, True)
    a = assign_max_iou(PRIORS, far, np.array([5]), np.zeros((0, 4)), retina)
    assert a.assigned_gt.tolist() == [1, 1, 1, 1]       # mmdet #8289: every 0-IoU prior ties
    assert assign_max_iou(PRIORS, far, np.array([5]), np.zeros((0, 4)), RPN).assigned_gt.tolist() == [0] * 4


def test_ignore_region_columns_become_minus_one():
    ignore = np.array([[30, 30, 40, 40]], dtype=np.float32)
    params = MaxIoUParams(0.7, 0.3, 0.3, True, True, 0.5, True)
    a = assign_max_iou(PRIORS, GTS, np.array([1, 2]), ignore, params)
    assert a.assigned_gt[3] == IGNORE and a.max_iou[3] == -1
    assert ignored_priors(PRIORS, ignore, -1, True).sum() == 0      # off by default


def test_ignore_iof_is_strictly_greater():
    prior = np.array([[0, 0, 10, 10]], dtype=np.float32)
    half = np.array([[5, 0, 20, 10]], dtype=np.float32)            # IoF exactly 0.5
    assert not ignored_priors(prior, half, 0.5, True)[0]
    assert ignored_priors(prior, half, 0.49, True)[0]


def test_chunk_size_does_not_change_the_result():
    rng = np.random.default_rng(0)
    c = rng.uniform(0, 200, (500, 2))
    priors = np.concatenate([c - 10, c + 10], 1).astype(np.float32)
    gts = np.concatenate([priors[[3, 3, 40]], [[50, 50, 90, 70]]]).astype(np.float32)
    whole = assign_max_iou(priors, gts, np.arange(4), np.zeros((0, 4)), RPN, chunk=10_000)
    for chunk in (1, 7, 128):
        part = assign_max_iou(priors, gts, np.arange(4), np.zeros((0, 4)), RPN, chunk=chunk)
        np.testing.assert_array_equal(part.assigned_gt, whole.assigned_gt)
        np.testing.assert_array_equal(part.max_iou, whole.max_iou)


def test_torchvision_matcher_reference_vector():
    # C.5: Matcher(0.7, 0.3, True) on M gives native [0, 0, -1, -1] -> mmdet codes [1, 1, 0, 0]:
    # the low-quality prior 0 keeps its own argmax (gt 0), unlike mmdet's [2, 1, 0, 0]
    assert tv_match_wrt_overlaps(M, np.array([0, 1]), 0.7, 0.3, True).assigned_gt.tolist() == [1, 1, 0, 0]


def test_torchvision_ties_and_between_thresholds():
    ties = np.array([[0.4, 0.4, 0.1]], dtype=np.float32)
    assert tv_match_wrt_overlaps(ties, np.array([0]), 0.7, 0.3, True).assigned_gt.tolist() == [1, 1, NEGATIVE]
    assert tv_match_wrt_overlaps(ties, np.array([0]), 0.7, 0.3, False).assigned_gt.tolist() == [IGNORE, IGNORE,
                                                                                                  NEGATIVE]


def test_torchvision_has_no_min_pos_iou():
    weak = np.array([[0.268, 0.1]], dtype=np.float32)
    assert tv_match_wrt_overlaps(weak, np.array([0]), 0.7, 0.3, True).assigned_gt.tolist() == [1, NEGATIVE]


def test_torchvision_ssd_matcher_forces_each_gts_best():
    gts = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], dtype=np.float32)
    priors = np.array([[0, 0, 10, 8], [0, 0, 10, 10], [50, 50, 60, 60]], dtype=np.float32)
    a = assign_tv_ssd_matcher(priors, gts, np.array([0, 1]), 0.5)
    assert a.assigned_gt.tolist() == [1, 2, NEGATIVE]      # duplicate GT overwrites the shared best


@pytest.mark.parametrize("fn", [assign_tv_matcher])
def test_torchvision_empty_gt_is_background(fn):
    a = fn(PRIORS, np.zeros((0, 4), np.float32), np.zeros(0, np.int32), 0.7, 0.3, True)
    assert a.assigned_gt.tolist() == [NEGATIVE] * 4
