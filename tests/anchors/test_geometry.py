"""Input geometry: reference-semantics C.2 examples (verified in mmdetection 3.3.0)."""
import numpy as np
import pytest

from samplegen.anchors import geometry


@pytest.mark.parametrize("w, h, resized, padded", [
    (640, 480, (800, 1067), (800, 1088)),
    (500, 375, (800, 1067), (800, 1088)),
    (1024, 683, (800, 1199), (800, 1216)),
    (427, 640, (1199, 800), (1216, 800)),
    (612, 612, (800, 800), (800, 800)),
])
def test_keep_ratio_resize_and_pad(w, h, resized, padded):
    g = geometry.keep_ratio_geometry(w, h, (1333, 800), 32, [8])
    assert g.img_shape == resized and g.pad_shape == padded
    assert g.scale_factor == (resized[1] / w, resized[0] / h)


def test_feature_sizes_round_up():
    g = geometry.keep_ratio_geometry(1333, 800, (1333, 800), 32, [4, 8, 16, 32, 64, 128])
    assert g.pad_shape == (800, 1344)
    assert g.featmap_sizes == ((200, 336), (100, 168), (50, 84), (25, 42), (13, 21), (7, 11))


def test_ssd_warp_has_fixed_maps_and_no_padding():
    g = geometry.warp_geometry(640, 480, (300, 300), [(38, 38), (1, 1)])
    assert g.img_shape == g.pad_shape == (300, 300)
    assert g.scale_factor == (300 / 640, 300 / 480)
    assert g.featmap_sizes == ((38, 38), (1, 1))


def test_boxes_scale_per_axis_in_float32_and_clip_to_the_resized_image():
    g = geometry.keep_ratio_geometry(640, 480, (1333, 800), 32, [8])
    boxes = np.array([[10, 20, 30, 40], [600, 400, 700, 500]], dtype=np.float32)
    out = geometry.scale_boxes(boxes, g, clip=True)
    factors = np.array([1067 / 640, 800 / 480] * 2, dtype=np.float32)
    np.testing.assert_array_equal(out[0], boxes[0] * factors)
    assert out[1, 2] == 1067 and out[1, 3] == 800
    assert out.dtype == np.float32
    assert geometry.scale_boxes(boxes, g, clip=False)[1, 2] > 1067


def test_no_boxes_give_an_empty_array():
    g = geometry.keep_ratio_geometry(640, 480, (1333, 800), 32, [8])
    assert geometry.scale_boxes(np.zeros((0, 4)), g, clip=True).shape == (0, 4)
