"""FCOS point assignment (reference-semantics C.8): inside test, ranges, centre sampling, ties."""
import numpy as np

from samplegen.anchors.assign.points import assign_fcos, assign_fcos_tv, per_point
from samplegen.anchors.labels import NEGATIVE

RANGES = np.array([[-1, 64]], dtype=np.float32)


def _assign(points, gts, ranges=None, radius=None):
    points = np.asarray(points, np.float32)
    ranges = np.repeat(RANGES, len(points), axis=0) if ranges is None else ranges
    return assign_fcos(points, np.asarray(gts, np.float32), np.arange(len(gts)) + 10, ranges, radius)


def test_point_inside_a_box_is_positive_with_its_label():
    a = _assign([[5, 5], [50, 50]], [[0, 0, 10, 10]])
    assert a.assigned_gt.tolist() == [1, NEGATIVE] and a.labels.tolist() == [10, -1]


def test_point_on_the_border_is_not_inside():
    assert _assign([[0, 5], [10, 5]], [[0, 0, 10, 10]]).assigned_gt.tolist() == [NEGATIVE, NEGATIVE]


def test_range_is_inclusive_at_both_ends():
    # max(l, t, r, b) = 64 exactly -> inside (-1, 64]
    assert _assign([[64, 10]], [[0, 0, 70, 20]]).assigned_gt.tolist() == [1]
    assert _assign([[65, 10]], [[0, 0, 70, 20]]).assigned_gt.tolist() == [NEGATIVE]   # l = 65 > 64


def test_ambiguous_point_goes_to_the_smallest_box_first_on_ties():
    gts = [[0, 0, 40, 40], [0, 0, 20, 20], [0, 0, 20, 20]]
    assert _assign([[10, 10]], gts).assigned_gt.tolist() == [2]


def test_centre_sampling_restricts_to_radius_around_the_centre():
    gts = [[0, 0, 60, 60]]                         # centre (30, 30); radius 1.5 * 8 = 12
    radius = np.full(2, 12, np.float32)
    a = _assign([[20, 20], [5, 5]], gts, radius=radius)
    assert a.assigned_gt.tolist() == [1, NEGATIVE]
    assert _assign([[20, 20], [5, 5]], gts).assigned_gt.tolist() == [1, 1]


def test_centre_region_is_clipped_to_the_box():
    radius = np.full(1, 12, np.float32)            # box narrower than the radius
    assert _assign([[3, 30]], [[0, 0, 4, 60]], radius=radius).assigned_gt.tolist() == [1]
    assert _assign([[4.5, 30]], [[0, 0, 4, 60]], radius=radius).assigned_gt.tolist() == [NEGATIVE]


def test_no_gt_all_background():
    a = _assign([[1, 1], [2, 2]], np.zeros((0, 4)))
    assert a.assigned_gt.tolist() == [NEGATIVE, NEGATIVE] and a.max_iou.shape == (0,)


def test_per_point_repeats_level_values():
    counts = np.array([2, 1], np.int32)
    assert per_point([8, 16], counts).tolist() == [8, 8, 16]
    assert per_point([[-1, 64], [64, 128]], counts).shape == (3, 2)


def test_torchvision_strict_ranges_and_first_level_lower_bound_zero():
    anchors = np.array([[-4, -4, 4, 4], [12, 12, 20, 20], [24, 24, 40, 40]], dtype=np.float32)
    counts = np.array([2, 1], np.int32)
    gts = np.array([[0, 0, 30, 30]], dtype=np.float32)   # centre (15, 15)
    a = assign_fcos_tv(anchors, counts, gts, np.array([7]), 1.5)
    # point (0, 0) is on the border (not inside); (16, 16) is near the centre, size 8 -> 0 < 16 < 64;
    # (32, 32) lies outside the box
    assert a.assigned_gt.tolist() == [NEGATIVE, 1, NEGATIVE]
