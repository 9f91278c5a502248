"""samplegen.detect.refine: calibration, squaring and rounding on hand-checkable boxes."""
from __future__ import annotations

import numpy as np

from samplegen.detect.config import BoxFinish
from samplegen.detect.refine import calibrate, finish, round_boxes, square

BOX = np.array([[10.0, 20.0, 29.0, 59.0]])   # w = 19 (20 with +1), h = 39 (40 with +1)
OFFSETS = np.array([[0.1, -0.05, 0.2, 0.5]], np.float32)


def test_calibrate_scales_offsets_by_the_box_size():
    # ipazc stage 1: w = x2 - x1 = 19, h = 39.
    expected = [10 + 0.1 * 19, 20 - 0.05 * 39, 29 + 0.2 * 19, 59 + 0.5 * 39]
    np.testing.assert_allclose(calibrate(BOX, OFFSETS, plus_one=False)[0], expected, rtol=0, atol=1e-6)
    # ipazc RNet / AITTSMD: w = 20, h = 40.
    expected = [10 + 0.1 * 20, 20 - 0.05 * 40, 29 + 0.2 * 20, 59 + 0.5 * 40]
    np.testing.assert_allclose(calibrate(BOX, OFFSETS, plus_one=True)[0], expected, rtol=0, atol=1e-6)


def test_calibrate_uses_the_float32_offsets_widened():
    out = calibrate(BOX, OFFSETS, plus_one=True)
    assert out.dtype == np.float64
    assert out[0, 0] == 10.0 + np.float64(np.float32(0.1)) * 20.0


def test_square_plain_is_ipazc_rerec():
    # w 19, h 39: side 39, x1 = 10 + 9.5 - 19.5 = 0, x2 = 0 + 39; y unchanged (20, 59).
    assert square(BOX, "plain").tolist() == [[0.0, 20.0, 39.0, 59.0]]


def test_square_plus_one_is_aittsmd_convert_to_square():
    # w 20, h 40: side 40, x1 = 10 + 10 - 20 = 0, x2 = 0 + 40 - 1 = 39; y1 = 20, y2 = 59.
    assert square(BOX, "plus_one").tolist() == [[0.0, 20.0, 39.0, 59.0]]
    # A wide box: w 41 (+1), h 11: side 41, y1 = 0 + 5.5 - 20.5 = -15, y2 = -15 + 40 = 25.
    assert square(np.array([[0.0, 0.0, 40.0, 10.0]]), "plus_one").tolist() == [[0.0, -15.0, 40.0, 25.0]]


def test_square_none_copies():
    out = square(BOX, "none")
    assert out.tolist() == BOX.tolist() and out is not BOX


def test_rounding_modes():
    values = np.array([[-1.7, -1.5, 2.5, 3.5]])
    assert round_boxes(values, "fix").tolist() == [[-1.0, -1.0, 2.0, 3.0]]      # toward zero
    assert round_boxes(values, "round").tolist() == [[-2.0, -2.0, 2.0, 4.0]]    # half to even
    assert round_boxes(values, "none").tolist() == values.tolist()


def test_finish_squares_then_rounds():
    box = np.array([[0.0, 0.0, 10.0, 5.0]])   # plain: side 10, y1 = 0 + 2.5 - 5 = -2.5
    assert finish(box, BoxFinish("plain", "fix")).tolist() == [[0.0, -2.0, 10.0, 7.0]]


def test_empty_inputs():
    empty = np.zeros((0, 4))
    assert calibrate(empty, np.zeros((0, 4)), True).shape == (0, 4)
    assert square(empty, "plain").shape == (0, 4)
    assert finish(empty, BoxFinish("plus_one", "round")).shape == (0, 4)
