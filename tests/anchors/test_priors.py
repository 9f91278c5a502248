"""Prior generators: hand-checkable values from reference-semantics C.3 / C.4 / C.8.

Full-size bit-identity with mmdetection is checked in test_golden.py (oracle checksums).
"""
import numpy as np
import pytest

from samplegen.anchors import priors
from samplegen.anchors.geometry import stride_featmap_sizes


def test_fpn_p2_base_anchors_match_the_reference_values():
    base = priors.anchor_base_single_level(4, [8], [0.5, 1.0, 2.0], True, (0.0, 0.0))
    np.testing.assert_allclose(base, [[-22.6274, -11.3137, 22.6274, 11.3137], [-16, -16, 16, 16],
                                      [-11.3137, -22.6274, 11.3137, 22.6274]], atol=1e-4)
    assert base.dtype == np.float32


def test_retinanet_octave_scales_and_order_ratio_outer_scale_fastest():
    scales = priors.octave_scales(4, 3)
    np.testing.assert_allclose(scales, [4, 5.0397, 6.3496], atol=1e-4)
    base = priors.anchor_base_single_level(8, scales, [0.5, 1.0, 2.0], True, (0.0, 0.0))
    widths = base[:, 2] - base[:, 0]
    assert widths[0] < widths[1] < widths[2]          # ratio 0.5, scales s0..s2
    assert widths[0] > widths[3]                       # ratio 0.5 is wider than ratio 1


def test_grid_index_is_y_then_x_then_anchor():
    base = np.array([[-1, -1, 1, 1], [-2, -2, 2, 2]], dtype=np.float32)
    grid = priors.anchor_grid_single_level(base, (2, 3), (10, 20))
    assert grid.shape == (2 * 3 * 2, 4)
    y, x, a = 1, 2, 1
    np.testing.assert_array_equal(grid[(y * 3 + x) * 2 + a], [x * 10 - 2, y * 20 - 2, x * 10 + 2, y * 20 + 2])


def test_fpn_prior_count_at_800x1344():
    maps = stride_featmap_sizes((800, 1344), [4, 8, 16, 32, 64])
    anchors, counts = priors.mmdet_anchors(maps, [4, 8, 16, 32, 64], [0.5, 1, 2], [8], None, 0.0)
    assert counts.tolist() == [201600, 50400, 12600, 3150, 819]
    assert anchors.shape == (268569, 4) and counts.dtype == np.int32


def test_ssd300_sizes_voc_and_coco():
    assert priors.ssd_sizes(300, (0.2, 0.9), 6) == ([30, 60, 111, 162, 213, 264], [60, 111, 162, 213, 264, 315])
    assert priors.ssd_sizes(300, (0.15, 0.9), 6) == ([21, 45, 99, 153, 207, 261], [45, 99, 153, 207, 261, 315])
    assert priors.ssd_sizes(512, (0.1, 0.9), 7)[0] == [20, 51, 133, 215, 296, 378, 460]


def test_ssd_sizes_reject_unknown_first_ratio():
    with pytest.raises(ValueError, match="basesize_ratio_range"):
        priors.ssd_sizes(300, (0.3, 0.9), 6)


def test_ssd300_cell_zero_and_total():
    maps = [(f, f) for f in (38, 19, 10, 5, 3, 1)]
    boxes, counts = priors.ssd_priors(maps, [8, 16, 32, 64, 100, 300], [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
                                      [21, 45, 99, 153, 207, 261], [45, 99, 153, 207, 261, 315])
    assert counts.sum() == 8732
    np.testing.assert_allclose(boxes[:4], [[-6.5, -6.5, 14.5, 14.5], [-11.3704, -11.3704, 19.3704, 19.3704],
                                           [-10.8492, -3.4246, 18.8492, 11.4246],
                                           [-3.4246, -10.8492, 11.4246, 18.8492]], atol=1e-4)


def test_fcos_points_offset_half_and_zero():
    pts, counts = priors.fcos_points([(2, 3)], [8], 0.5)
    np.testing.assert_array_equal(pts[:4], [[4, 4], [12, 4], [20, 4], [4, 12]])
    pts0, _ = priors.fcos_points([(2, 3)], [8], 0.0)
    np.testing.assert_array_equal(pts0[4], [8, 8])
    assert counts.tolist() == [6]


def test_torchvision_anchors_are_rounded_half_even():
    base = priors.tv_anchor_base_single_level([32], [0.5, 1.0, 2.0])
    np.testing.assert_array_equal(base[0], [-23, -11, 23, 11])
    assert priors.tv_anchor_base_single_level([101], [1.0])[0].tolist() == [-50, -50, 50, 50]


def test_torchvision_strides_use_integer_division():
    maps = stride_featmap_sizes((800, 1344), [4, 8, 16, 32, 64, 128])
    assert priors.tv_strides((800, 1344), maps)[-2:] == [(64, 61), (122, 114)]   # (s_w, s_h)


def test_empty_level_list_gives_empty_priors():
    anchors, counts = priors.anchor_grid([], [], [])
    assert anchors.shape == (0, 4) and counts.shape == (0,)
