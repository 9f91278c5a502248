"""Box coders (reference-semantics C.7, C.8)."""
import numpy as np

from samplegen.anchors.coders import centerness, decode_delta_xywh, encode_delta_xywh, encode_distance

PRIORS = np.array([[0, 0, 10, 20], [10, 10, 30, 30]], dtype=np.float32)
GTS = np.array([[1, 2, 11, 22], [5, 5, 45, 25]], dtype=np.float32)


def test_delta_xywh_hand_values():
    d = encode_delta_xywh(PRIORS, GTS, (0, 0, 0, 0), (1, 1, 1, 1))
    np.testing.assert_allclose(d[0], [0.1, 0.1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(d[1], [0.25, -0.25, np.log(2), 0], atol=1e-6)
    assert d.dtype == np.float32


def test_stds_divide_the_deltas():
    plain = encode_delta_xywh(PRIORS, GTS, (0, 0, 0, 0), (1, 1, 1, 1))
    scaled = encode_delta_xywh(PRIORS, GTS, (0, 0, 0, 0), (0.1, 0.1, 0.2, 0.2))
    np.testing.assert_allclose(scaled, plain / np.float32([0.1, 0.1, 0.2, 0.2]), rtol=1e-6)


def test_decode_inverts_encode():
    d = encode_delta_xywh(PRIORS, GTS, (0, 0, 0, 0), (0.1, 0.1, 0.2, 0.2))
    np.testing.assert_allclose(decode_delta_xywh(PRIORS, d, (0, 0, 0, 0), (0.1, 0.1, 0.2, 0.2)), GTS, atol=1e-4)


def test_identical_boxes_encode_to_zero_and_empty_input():
    np.testing.assert_array_equal(encode_delta_xywh(GTS, GTS, (0, 0, 0, 0), (1, 1, 1, 1)), np.zeros((2, 4)))
    assert encode_delta_xywh(np.zeros((0, 4)), np.zeros((0, 4)), (0,) * 4, (1,) * 4).shape == (0, 4)


def test_zero_width_gt_gives_minus_inf_like_mmdet():
    d = encode_delta_xywh(PRIORS[:1], np.array([[5, 0, 5, 20]], np.float32), (0,) * 4, (1,) * 4)
    assert d[0, 2] == -np.inf


def test_distance_targets_and_stride_normalisation():
    pts = np.array([[4, 6]], dtype=np.float32)
    box = np.array([[0, 0, 10, 20]], dtype=np.float32)
    assert encode_distance(pts, box).tolist() == [[4, 6, 6, 14]]
    assert encode_distance(pts, box, np.array([2], np.float32)).tolist() == [[2, 3, 3, 7]]


def test_centerness_is_one_at_the_centre():
    np.testing.assert_allclose(centerness(np.array([[5, 5, 5, 5], [1, 2, 3, 6]], np.float32)),
                               [1.0, np.sqrt(1 / 3 * 2 / 6)], rtol=1e-6)
    assert centerness(np.zeros((0, 4), np.float32)).shape == (0,)
