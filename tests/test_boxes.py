"""boxes: IoU / IoF in mmdetection's float32 order, row-wise, best-match and shape IoU."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen import boxes
from samplegen.boxes import best_iou, box_area, iof, iou, paired_iou, shape_iou


def test_iou_by_hand():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    # 5x10 = 50 overlap, union 100 + 100 - 50 = 150; disjoint; identical
    np.testing.assert_allclose(iou(a, b), [[1 / 3, 0.0, 1.0]], rtol=1e-6)
    assert iou(a, b).dtype == np.float32 and iou(a, b[:0]).shape == (1, 0)


def test_plus_one_is_the_discrete_pixel_iou():
    a = np.array([[0, 0, 9, 9]], np.float32)        # 10 x 10 pixels inclusive
    b = np.array([[5, 0, 14, 9]], np.float32)
    assert box_area(a, plus_one=True)[0] == 100
    assert iou(a, b, plus_one=True)[0, 0] == pytest.approx(50 / 150)


def test_iof_divides_by_the_first_box():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 100, 100]], np.float32)
    assert iof(a, b)[0, 0] == pytest.approx(0.5) and iof(b, a)[0, 0] == pytest.approx(50 / 9500)


def test_zero_area_union_is_clamped_not_nan():
    z = np.array([[3, 3, 3, 3]], np.float32)
    assert iou(z, z)[0, 0] == 0.0


def test_paired_iou_equals_the_diagonal_bit_for_bit():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 500, (200, 2)).astype(np.float32)
    a = np.concatenate([xy, xy + rng.uniform(1, 80, (200, 2)).astype(np.float32)], 1)
    b = a + rng.normal(0, 10, a.shape).astype(np.float32)
    for plus_one in (False, True):
        assert np.array_equal(paired_iou(a, b, plus_one), np.diag(iou(a, b, plus_one)))


def test_best_iou_takes_the_first_argmax_and_does_not_depend_on_blocks(monkeypatch):
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 300, (500, 2)).astype(np.float32)
    crops = np.concatenate([xy, xy + 40], 1).astype(np.float32)
    faces = np.vstack([crops[:40], crops[:40]])          # every face twice: ties at the max
    best, idx = best_iou(crops, faces)
    full = iou(crops, faces)
    assert np.array_equal(best, full.max(1)) and np.array_equal(idx, full.argmax(1))
    assert (idx[:40] == np.arange(40)).all()              # first of the two equal copies
    monkeypatch.setattr(boxes, "IOU_BLOCK_ELEMENTS", 97)  # many small blocks: same answer
    small_best, small_idx = best_iou(crops, faces)
    assert np.array_equal(small_best, best) and np.array_equal(small_idx, idx)
    none_best, none_idx = best_iou(crops, faces[:0])
    assert (none_best == 0).all() and (none_idx == -1).all()


def test_shape_iou_of_centred_boxes():
    # 10x10 vs 20x5 on one centre: intersection 10 x 5 = 50, union 100 + 100 - 50 = 150
    np.testing.assert_allclose(shape_iou(np.array([[10.0, 10.0]]), np.array([[20.0, 5.0], [10.0, 10.0]])),
                               [[1 / 3, 1.0]])
