"""samplegen.detect.pyramid: the two references' pyramids, level by level."""
from __future__ import annotations

import math

import numpy as np

from samplegen.detect.config import load_detect_config
from samplegen.detect.pyramid import pyramid_levels, resize_level

IPAZC = load_detect_config("ipazc").pyramid
AITTSMD = load_detect_config("aittsmd").pyramid


def test_ipazc_pyramid_of_a_500x375_image():
    levels = pyramid_levels(375, 500, IPAZC)
    # s0 = 12 / 20 = 0.6; scale_k = 0.6 * 0.709 ** k while 375 * 0.6 * 0.709 ** k >= 12:
    # 225, 159.5, 113.1, 80.2, 56.9, 40.3, 28.6, 20.3, 14.4 -> 9 levels (next: 10.2).
    assert len(levels) == 9
    assert levels[0].scale == 0.6 and (levels[0].height, levels[0].width) == (225, 300)
    k = 5
    scale = 0.6 * float(np.power(0.709, k))
    assert levels[k].scale == scale
    assert (levels[k].height, levels[k].width) == (math.ceil(375 * scale), math.ceil(500 * scale))
    assert min(levels[-1].height, levels[-1].width) >= 12


def test_aittsmd_pyramid_floors_sizes_and_stops_at_12():
    levels = pyramid_levels(375, 500, AITTSMD)
    # s_k = 0.6 * 0.79 ** k (running product), sizes int(); kept while min side > 12:
    # 225, 177, 140, 110, 87, 69, 54, 43, 34, 26, 21, 16, 13 -> 13 levels (next 10).
    assert [lv.height for lv in levels] == [225, 177, 140, 110, 87, 69, 54, 43, 34, 26, 21, 16, 13]
    scale = 0.6
    for level in levels:
        assert level.scale == scale and level.width == int(500 * scale)
        scale *= 0.79


def test_an_image_below_one_window_has_no_level():
    assert pyramid_levels(15, 300, IPAZC) == []     # 15 * 0.6 = 9 < 12
    assert pyramid_levels(0, 0, IPAZC) == []
    assert pyramid_levels(21, 300, AITTSMD) == []   # int(21 * 0.6) = 12, not > 12


def test_resize_level_gives_uint8_of_the_level_size():
    image = np.random.default_rng(0).integers(0, 256, (375, 500, 3), dtype=np.uint8)
    level = pyramid_levels(375, 500, IPAZC)[2]
    out = resize_level(image, level, IPAZC.interpolation)
    assert out.dtype == np.uint8 and out.shape == (level.height, level.width, 3)
