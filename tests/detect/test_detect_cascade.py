"""samplegen.detect.cascade: the per-image entry point on empty, tiny and real images."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from samplegen.detect.cascade import detect_faces
from samplegen.detect.config import load_detect_config
from samplegen.detect.nets import load_nets
from samplegen.detect.pyramid import pyramid_levels

from tests.detect.conftest import spec


def _photo(shared_data, name="photos/grace_hopper.jpg"):
    return cv2.imread(str(shared_data / name), cv2.IMREAD_COLOR)


@pytest.mark.parametrize("pixels", [np.zeros((480, 640, 3), np.uint8), np.full((300, 200, 3), 255, np.uint8)])
def test_an_image_without_faces_gives_empty_arrays(nhwc_nets, ipazc, pixels):
    result = detect_faces(pixels, nhwc_nets, ipazc)
    for boxes in (result.pnet_boxes, result.rnet_boxes):
        assert boxes.shape == (0, 5) and boxes.dtype == np.float32


@pytest.mark.parametrize("shape", [(10, 10, 3), (0, 0, 3), (0, 50, 3)])
def test_an_image_below_one_window_gives_empty_arrays(nhwc_nets, ipazc, shape):
    result = detect_faces(np.zeros(shape, np.uint8), nhwc_nets, ipazc)
    assert result.pnet_boxes.shape == (0, 5) and result.rnet_boxes.shape == (0, 5)


@pytest.mark.parametrize("pixels", [np.zeros((50, 50), np.uint8), np.zeros((50, 50, 4), np.uint8),
                                    np.zeros((50, 50, 3), np.float32)])
def test_pixels_that_are_not_uint8_bgr_are_programmer_errors(nhwc_nets, ipazc, pixels):
    with pytest.raises(ValueError, match=r"uint8 \[H, W, 3\]"):
        detect_faces(pixels, nhwc_nets, ipazc)


def test_a_face_photo_gives_ordered_boxes_per_stage(shared_data, nhwc_nets, ipazc):
    result = detect_faces(_photo(shared_data), nhwc_nets, ipazc)
    for boxes, threshold in ((result.pnet_boxes, 0.6), (result.rnet_boxes, 0.7)):
        assert len(boxes) > 0 and boxes.dtype == np.float32
        assert (np.diff(boxes[:, 4]) <= 0).all(), "kept order is best first"
        assert (boxes[:, 4] >= np.float32(threshold)).all()
    assert len(result.rnet_boxes) <= len(result.pnet_boxes)
    # ipazc squares both stages' outputs; stage 1 is then truncated to whole pixels (np.fix),
    # which can leave the sides 1 px apart.
    stage1, stage2 = result.pnet_boxes, result.rnet_boxes
    assert (stage1[:, :4] == np.fix(stage1[:, :4])).all()
    assert np.abs((stage1[:, 2] - stage1[:, 0]) - (stage1[:, 3] - stage1[:, 1])).max() <= 1
    np.testing.assert_allclose(stage2[:, 2] - stage2[:, 0], stage2[:, 3] - stage2[:, 1], atol=1e-3)


def test_pnet_only_and_one_forward_per_level(shared_data, models, ipazc):
    nets = load_nets(spec(models, "nhwc_swapped", rnet=False), ipazc)
    pixels = _photo(shared_data)
    before = nets.pnet.forward_calls
    result = detect_faces(pixels, nets, ipazc)
    assert result.rnet_boxes is None and len(result.pnet_boxes) > 0
    assert nets.pnet.forward_calls - before == len(pyramid_levels(*pixels.shape[:2], ipazc.pyramid))


def test_rnet_batching_does_not_change_the_result(shared_data, models, nhwc_nets, ipazc):
    pixels = _photo(shared_data, "photos/tropcomplique_office1.jpg")   # ~750 stage-1 boxes
    small = load_detect_config("ipazc", {"rnet": {"batch_size": 16}})
    expected = detect_faces(pixels, nhwc_nets, ipazc)
    result = detect_faces(pixels, load_nets(spec(models, "nhwc_swapped"), small), small)
    assert np.array_equal(result.rnet_boxes, expected.rnet_boxes)


def test_aittsmd_preset_runs_and_is_deterministic(shared_data, models):
    cfg = load_detect_config("aittsmd", {"input": {"channel_order": "rgb"}})   # the paper's weights are RGB
    nets = load_nets(spec(models, "nchw"), cfg)
    pixels = _photo(shared_data)
    first, second = detect_faces(pixels, nets, cfg), detect_faces(pixels, nets, cfg)
    assert np.array_equal(first.pnet_boxes, second.pnet_boxes)
    assert np.array_equal(first.rnet_boxes, second.rnet_boxes)
    assert 0 < len(first.rnet_boxes) <= len(first.pnet_boxes)
    assert np.isfinite(first.rnet_boxes).all() and (first.rnet_boxes[:, 4] > np.float32(0.1)).all()
