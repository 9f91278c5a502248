"""ATSS assignment (reference-semantics C.9): candidates, adaptive threshold, centre test, ties."""
import numpy as np

from samplegen.anchors.assign.atss import assign_atss, atss_candidates
from samplegen.anchors.labels import IGNORE, NEGATIVE
from samplegen.anchors.priors import mmdet_anchors

MAPS, STRIDES = [(8, 8), (4, 4)], [8, 16]


def _priors():
    return mmdet_anchors(MAPS, STRIDES, [1.0], [4.0], None, 0.0)   # 32 and 64 px squares


def test_candidates_are_the_nearest_per_level_lowest_index_on_ties():
    d = np.array([[2], [1], [1], [1], [0], [5]], dtype=np.float32)
    assert atss_candidates(d, np.array([4, 2]), 2)[:, 0].tolist() == [1, 2, 4, 5]


def test_a_box_gets_positives_inside_it_only():
    priors, counts = _priors()
    gt = np.array([[10, 10, 40, 40]], dtype=np.float32)
    a = assign_atss(priors, counts, gt, np.array([3]), np.zeros((0, 4)), 9, -1, 0.01)
    pos = np.flatnonzero(a.assigned_gt == 1)
    assert len(pos) > 0 and (a.labels[pos] == 3).all()
    centres = (priors[pos, :2] + priors[pos, 2:]) / 2
    assert ((centres > 10) & (centres < 40)).all()


def test_no_gt_is_all_negative():
    priors, counts = _priors()
    a = assign_atss(priors, counts, np.zeros((0, 4), np.float32), np.zeros(0), np.zeros((0, 4)), 9, -1, 0.01)
    assert (a.assigned_gt == NEGATIVE).all()


def test_ignore_regions_mark_priors_ignored():
    priors, counts = _priors()
    gt = np.array([[10, 10, 40, 40]], dtype=np.float32)
    ignore = np.array([[32, 32, 64, 64]], dtype=np.float32)
    a = assign_atss(priors, counts, gt, np.array([0]), ignore, 9, 0.5, 0.01)
    assert (a.assigned_gt == IGNORE).any()


def test_shared_prior_goes_to_the_higher_iou():
    priors, counts = _priors()
    gts = np.array([[0, 0, 64, 64], [8, 8, 56, 56]], dtype=np.float32)
    a = assign_atss(priors, counts, gts, np.array([0, 1]), np.zeros((0, 4)), 9, -1, 0.01)
    from samplegen.boxes import iou
    o = iou(priors, gts)
    both = np.flatnonzero(a.assigned_gt > 0)
    chosen = a.assigned_gt[both] - 1
    assert (o[both, chosen] >= o[both, 1 - chosen]).all() or len(both) == 0


def test_a_gt_can_end_up_with_no_positive():
    # 64 px anchors all contain a 30 px box: equal IoUs, mean + std above all of them (ATSS #90)
    priors, counts = mmdet_anchors(MAPS, STRIDES, [1.0], [8.0], None, 0.0)
    a = assign_atss(priors, counts, np.array([[10, 10, 40, 40]], np.float32), np.array([3]), np.zeros((0, 4)),
                    9, -1, 0.01)
    assert (a.assigned_gt == NEGATIVE).all()
