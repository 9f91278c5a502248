"""samplegen.detect.crop: RNet windows, zero padding outside the image, both precisions."""
from __future__ import annotations

import numpy as np

from samplegen.detect.config import CropConfig
from samplegen.detect.crop import crop_windows, cut_window, rnet_crops
from samplegen.detect.layout import pixel_lut

LUT = pixel_lut(127.5, 0.0078125)
IPAZC = CropConfig(offset=-1, precision="float64", interpolation="area")
AITTSMD = CropConfig(offset=0, precision="uint8", interpolation="linear")


def _ramp(height=6, width=8):
    # pixel (y, x) = 10 * y + x in every channel: positions readable from values.
    values = (10 * np.arange(height)[:, None] + np.arange(width)[None, :]).astype(np.uint8)
    return np.repeat(values[:, :, None], 3, axis=2)


def test_windows_follow_the_references_integer_steps():
    boxes = np.array([[2.0, 3.0, 5.0, 4.0], [2.9, 0.0, 4.2, 1.0]])
    x0, y0, w, h = crop_windows(boxes, offset=-1)
    # ipazc: origin x1 - 1 (1-based indexing of 0-based boxes), width trunc(x2 - x1 + 1).
    assert x0.tolist() == [1, 1] and y0.tolist() == [2, -1]
    assert w.tolist() == [4, 2] and h.tolist() == [2, 2]


def test_window_inside_the_image_is_a_view():
    image = _ramp()
    window = cut_window(image, 1, 2, 3, 2)
    assert window.base is image or window.base is image.base
    assert window[:, :, 0].tolist() == [[21, 22, 23], [31, 32, 33]]


def test_window_crossing_the_border_is_zero_padded():
    image = _ramp()
    window = cut_window(image, -1, 4, 3, 3)   # one column left of the image, one row below it
    assert window[:, :, 0].tolist() == [[0, 40, 41], [0, 50, 51], [0, 0, 0]]
    scratch = np.full((3, 3, 3), 7.0)
    out = cut_window(image, -1, 4, 3, 3, scratch)
    assert out is scratch and out[:, :, 0].tolist() == [[0, 40, 41], [0, 50, 51], [0, 0, 0]]


def test_window_outside_the_image_is_all_zeros():
    image = _ramp()
    assert not cut_window(image, 20, 20, 4, 4).any()
    assert not cut_window(image, -10, 0, 4, 4).any()


def test_crops_are_normalised_in_both_precisions():
    image = np.full((40, 40, 3), 200, np.uint8)
    boxes = np.array([[5.0, 5.0, 30.0, 30.0]])
    for cfg in (IPAZC, AITTSMD):
        crops, idx = rnet_crops(image, boxes, 24, cfg, 127.5, 0.0078125, LUT)
        assert crops.shape == (1, 24, 24, 3) and crops.dtype == np.float32 and idx.tolist() == [0]
        # (float64 area weights sum to 1 within an ulp, so the float path is only close)
        np.testing.assert_allclose(crops, np.float32((200 - 127.5) * 0.0078125), rtol=0, atol=1e-6)


def test_float64_path_keeps_fractional_resized_values():
    # A 2x2 checker window averaged by INTER_AREA into 1x1: (0 + 255 + 255 + 0) / 4 = 127.5,
    # normalised to exactly 0 in float64; the uint8 path rounds 127.5 first.
    image = np.array([[0, 255], [255, 0]], np.uint8)[:, :, None].repeat(3, axis=2)
    box = np.array([[1.0, 1.0, 2.0, 2.0]])   # ipazc offset -1: window (0, 0) 2x2
    crops, _ = rnet_crops(image, box, 1, IPAZC, 127.5, 0.0078125, LUT)
    assert crops.ravel().tolist() == [0.0, 0.0, 0.0]


def test_degenerate_boxes_get_no_crop():
    image = _ramp()
    boxes = np.array([[1.0, 1.0, 3.0, 3.0], [4.0, 4.0, 2.0, 5.0], [0.0, 0.0, 0.0, 0.0]])
    crops, idx = rnet_crops(image, boxes, 24, AITTSMD, 127.5, 0.0078125, LUT)
    # Box 1 has width trunc(2 - 4 + 1) = -1; box 2 is 1x1 and kept.
    assert idx.tolist() == [0, 2] and crops.shape == (2, 24, 24, 3)
    crops, idx = rnet_crops(image, boxes[1:2], 24, IPAZC, 127.5, 0.0078125, LUT)
    assert idx.tolist() == [] and crops.shape == (0, 24, 24, 3)
