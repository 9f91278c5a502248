"""samplegen.detect.nms: the references' greedy NMS, on hand-checkable boxes and against the loop."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.detect.config import NmsConfig
from samplegen.detect.nms import nms, nms_reference

UNION = NmsConfig(iou=0.5, mode="union", plus_one=True)


def _boxes(*rows):
    return np.array(rows, np.float64).reshape(-1, 4)


def test_plus_one_union_overlap_decides_suppression():
    # [0,0,9,9] and [1,1,10,10]: areas 10*10 = 100 each (+1 widths), inter 9*9 = 81,
    # IoU = 81 / 119 = 0.681: suppressed at 0.5, kept at 0.7.
    boxes, scores = _boxes([0, 0, 9, 9], [1, 1, 10, 10]), np.array([0.9, 0.8])
    assert nms(boxes, scores, UNION).tolist() == [0]
    assert nms(boxes, scores, NmsConfig(0.7, "union", True)).tolist() == [0, 1]


def test_continuous_widths_without_plus_one():
    # Without +1: areas 81, inter 8*8 = 64, IoU = 64 / 98 = 0.653 < 0.66.
    boxes, scores = _boxes([0, 0, 9, 9], [1, 1, 10, 10]), np.array([0.9, 0.8])
    assert nms(boxes, scores, NmsConfig(0.66, "union", False)).tolist() == [0, 1]
    assert nms(boxes, scores, NmsConfig(0.65, "union", False)).tolist() == [0]


def test_min_mode_divides_by_the_smaller_area():
    # A 5x5 box inside a 10x10 one (+1 widths): inter 25 = the small area, min-overlap 1.0,
    # union-overlap 0.25.
    boxes, scores = _boxes([0, 0, 9, 9], [2, 2, 6, 6]), np.array([0.9, 0.8])
    assert nms(boxes, scores, NmsConfig(0.7, "min", True)).tolist() == [0]
    assert nms(boxes, scores, NmsConfig(0.7, "union", True)).tolist() == [0, 1]


def test_overlap_equal_to_the_threshold_is_kept():
    # inter 50 / union 100 (two 10x10 boxes, +1 widths, shifted by 5 in x): 1/3, exactly
    # representable threshold chosen as the computed value.
    boxes = _boxes([0, 0, 9, 9], [5, 0, 14, 9])
    overlap = 50.0 / (100.0 + 100.0 - 50.0)
    assert nms(boxes, np.array([0.9, 0.8]), NmsConfig(overlap, "union", True)).tolist() == [0, 1]


def test_kept_order_is_best_first_and_ties_go_to_the_last_sorted():
    # Equal scores: np.argsort puts index 0 before 1 (a 2-element sort is stable), and the
    # references take the last sorted index first, so index 1 survives.
    boxes = _boxes([0, 0, 9, 9], [0, 0, 9, 9], [50, 50, 60, 60])
    assert nms(boxes, np.array([0.5, 0.5, 0.9]), UNION).tolist() == [2, 1]


def test_empty_and_disjoint_inputs():
    assert nms(np.zeros((0, 4)), np.zeros(0), UNION).tolist() == []
    boxes = _boxes([0, 0, 5, 5], [10, 10, 15, 15], [20, 0, 25, 5])
    assert nms(boxes, np.array([0.1, 0.3, 0.2]), UNION).tolist() == [1, 2, 0]


def test_mismatched_shapes_are_programmer_errors():
    with pytest.raises(ValueError):
        nms(np.zeros((3, 4)), np.zeros(2), UNION)


@pytest.mark.parametrize("seed", range(6))
def test_sparse_pass_equals_the_reference_loop(seed):
    # Dense clusters, saturated (tied) scores, both modes, and a degenerate box (zero area),
    # which sends nms to the reference loop.
    rng = np.random.default_rng(seed)
    n = 300
    xy = rng.integers(0, 150, (n, 2)).astype(np.float64) + (rng.random((n, 2)) if seed % 2 else 0)
    wh = rng.integers(1, 50, (n, 2)).astype(np.float64)
    boxes = np.hstack([xy, xy + wh])
    if seed == 5:
        boxes[7, 2] = boxes[7, 0] - 1  # width 0 with +1 widths
    scores = rng.choice([0.7, 0.99, 0.99999994, 1.0], n) if seed % 3 else rng.random(n)
    for cfg in (NmsConfig(0.5, "union", True), NmsConfig(0.7, "union", False), NmsConfig(0.7, "min", True)):
        assert np.array_equal(nms(boxes, scores, cfg), nms_reference(boxes, scores, cfg))
