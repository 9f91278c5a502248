"""Anchor / point pictures: per-level panels, colours of positives / ignored / sampled, FCOS heat map."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from samplegen.anchors.methods import anchor_config
from samplegen.anchors.labels import IGNORE, NEGATIVE
from samplegen.anchors.methods import label_image, priors_for
from samplegen.anchors.recipes.centernet import centernet_heatmap
from samplegen.render import draw, legend
from samplegen.render.anchor_panels import (NEGATIVE_ALPHA, STYLE, anchor_panels, centerness_map, crop_region,
                                            dense_heatmap, gt_region, legend_kinds, level_counts, level_slices,
                                            tile_panels)
from samplegen.rng import rng_for

GREY = (114, 114, 114)


def colour_at(image, x, y):
    return tuple(int(v) for v in image[y, x])


def canvas(h=64, w=96):
    return draw.blank(h, w, GREY)


def box_arrays():
    """Two levels: level 0 priors 0-2, level 1 priors 3-4; GT 0 and GT 1."""
    priors = np.array([[4, 4, 20, 20],      # 0: positive on GT 1
                       [30, 4, 50, 24],     # 1: ignored
                       [60, 40, 70, 50],    # 2: sampled negative
                       [4, 30, 40, 60],     # 3: positive on GT 0
                       [50, 30, 90, 60]],   # 4: negative, not sampled
                      np.float32)
    arrays = {"assigned_gt": np.array([2, IGNORE, NEGATIVE, 1, NEGATIVE], np.int32),
              "priors_per_level": np.array([3, 2], np.int32),
              "gt_boxes": np.array([[8, 34, 36, 56], [6, 6, 18, 18]], np.float32),
              "sampled": np.array([True, False, True, True, False])}
    return priors, arrays


def test_level_slices_split_the_prior_array():
    assert level_slices(np.array([3, 0, 2])) == [slice(0, 3), slice(3, 3), slice(3, 5)]


def test_one_panel_per_level_with_positives_in_their_gt_colour():
    priors, arrays = box_arrays()
    panels = anchor_panels(canvas(), arrays, priors, [8, 16])
    assert len(panels) == 2
    p0, p1 = panels[0].image, panels[1].image
    assert p0.shape == (64, 96, 3)
    # prior 0 (level 0, GT 1): its outline pixels [4..19] carry GT 1's colour in panel 0 only
    for x, y in ((4, 12), (19, 12), (12, 4), (12, 19)):
        assert colour_at(p0, x, y) == draw.gt_colour(1)
    assert colour_at(p1, 4, 12) != draw.gt_colour(1)
    # prior 3 (level 1, GT 0): in panel 1 only
    assert colour_at(p1, 4, 45) == draw.gt_colour(0) and colour_at(p1, 39, 45) == draw.gt_colour(0)
    assert colour_at(p0, 4, 45) == GREY
    # prior 1 ignored: grey outline in panel 0, nothing in panel 1
    assert colour_at(p0, 40, 4) == draw.IGNORED_GREY and colour_at(p0, 30, 14) == draw.IGNORED_GREY
    assert colour_at(p1, 40, 4) == GREY
    # GT boxes: thick outlines (3 rings) in both panels, inner pixels untouched by the outline
    for p in (p0, p1):
        assert colour_at(p, 22, 34) == draw.gt_colour(0) and colour_at(p, 22, 36) == draw.gt_colour(0)
    # prior 4: an unsampled negative leaves no trace
    assert colour_at(p1, 70, 45) == GREY and colour_at(p1, 50, 45) == GREY


def test_sampled_negatives_are_faint_dots_at_their_centres():
    priors, arrays = box_arrays()
    p0 = anchor_panels(canvas(), arrays, priors, [8, 16])[0].image
    faint = tuple(int(v) for v in np.rint(NEGATIVE_ALPHA * np.array(draw.NEGATIVE_COLOUR)
                                          + (1 - NEGATIVE_ALPHA) * np.array(GREY)))
    assert colour_at(p0, 65, 45) == faint  # centre of prior 2
    del arrays["sampled"]  # no sampler ran: no negatives drawn
    assert colour_at(anchor_panels(canvas(), arrays, priors, [8, 16])[0].image, 65, 45) == GREY


def test_scale_multiplies_every_coordinate():
    priors, arrays = box_arrays()
    p0 = anchor_panels(canvas(), arrays, priors, [8, 16], scale=2.0)[0].image
    assert p0.shape == (128, 192, 3)
    assert colour_at(p0, 8, 24) == draw.gt_colour(1) and colour_at(p0, 39, 24) == draw.gt_colour(1)


def test_mismatched_priors_are_refused():
    priors, arrays = box_arrays()
    with pytest.raises(ValueError):
        anchor_panels(canvas(), arrays, priors[:4], [8, 16])
    with pytest.raises(ValueError):
        anchor_panels(canvas(), arrays, priors, [8])


def fcos_arrays():
    points = np.array([[4, 4], [12, 4], [20, 12], [36, 20],   # level 0, stride 8
                       [8, 8], [24, 24], [40, 40]],           # level 1, stride 16
                      np.float32)
    arrays = {"assigned_gt": np.array([0, 1, 1, 0, 0, 2, 0], np.int32),
              "priors_per_level": np.array([4, 3], np.int32),
              "pos_inds": np.array([1, 2, 5], np.int32),
              "centerness": np.array([0.2, 1.0, 0.5], np.float32),
              "gt_boxes": np.array([[8, 0, 28, 20], [16, 16, 40, 40]], np.float32)}
    return points, arrays


def test_fcos_heat_map_is_nonzero_exactly_on_positive_cells():
    points, arrays = fcos_arrays()
    heat = centerness_map((64, 96), arrays, points, [8, 16], 1.0)
    expected = np.zeros((64, 96), bool)
    expected[0:8, 8:16] = True     # point (12, 4), stride 8 -> cell [8, 16) x [0, 8)
    expected[8:16, 16:24] = True   # point (20, 12), stride 8
    expected[16:32, 16:32] = True  # point (24, 24), stride 16
    np.testing.assert_array_equal(heat.any(axis=2), expected)
    # the finer level is painted on top, higher centerness is brighter
    assert heat[12, 20].sum() > heat[20, 28].sum() > 0


def test_fcos_panels_levels_plus_heat_map_and_points_in_gt_colour():
    points, arrays = fcos_arrays()
    panels = anchor_panels(canvas(), arrays, points, [8, 16])
    assert len(panels) == 3
    assert colour_at(panels[0].image, 12, 4) == draw.gt_colour(0)
    assert colour_at(panels[0].image, 4, 4) == GREY  # a negative point is not drawn
    assert colour_at(panels[1].image, 24, 24) == draw.gt_colour(1)
    heat, scale_bar = panels[2].image[:64], panels[2].image[64:]
    np.testing.assert_array_equal(heat, centerness_map((64, 96), arrays, points, [8, 16], 1.0))
    # under the map, its colour scale: VIRIDIS(0) at the left end of the bar, VIRIDIS(1) at the right
    assert scale_bar.shape == (legend.SCALE_HEIGHT, 96, 3)
    np.testing.assert_array_equal(scale_bar[5, 6], legend.viridis(np.array([0.0]))[0])
    np.testing.assert_array_equal(scale_bar[5, 96 - 7], legend.viridis(np.array([1.0]))[0])


def test_zoom_region_and_crop_move_everything_together():
    priors, arrays = box_arrays()
    assert gt_region(arrays["gt_boxes"], (64, 96), 0.0) == (6, 6, 36, 56)
    assert gt_region(arrays["gt_boxes"], (64, 96), 1.0) == (0, 0, 86, 64)
    assert gt_region(np.zeros((0, 4)), (64, 96), 1.0) == (0, 0, 96, 64)
    image, moved, moved_priors = crop_region(canvas(), arrays, priors, (2, 3, 50, 40))
    assert image.shape == (37, 48, 3)
    np.testing.assert_array_equal(moved_priors[0], [2, 1, 18, 17])
    np.testing.assert_array_equal(moved["gt_boxes"][1], [4, 3, 16, 15])
    assert moved["assigned_gt"] is arrays["assigned_gt"]


def test_tile_panels_stacks_titles_and_panels():
    priors, arrays = box_arrays()
    panels = anchor_panels(canvas(), arrays, priors, [8, 16])
    grid = tile_panels(panels, columns=1)
    assert grid.shape[1] == 96 + 2 * 6 and grid.shape[0] == 2 * (64 + 22) + 3 * 6


@pytest.mark.parametrize("method", ["fpn", "retinanet", "ssd300", "faster_rcnn"])
def test_real_method_positives_in_their_level_panel(method):
    # One GT, so every positive outline has GT 0's colour; positives are drawn last (only other
    # positives, of the same colour, can cover them).
    cfg = anchor_config(method)
    arrays = label_image(np.array([[182, 80, 266, 178]], np.float32), np.zeros(1, np.int32),
                         np.zeros((0, 4), np.float32), 512, 512, cfg, rng_for(0, "x"))
    priors, per_level = priors_for(cfg, 512, 512)
    h, w = (int(v) for v in arrays["pad_shape"])
    panels = anchor_panels(canvas(h, w), arrays, priors, cfg.strides)
    assert len(panels) == len(per_level) == len(cfg.strides)
    checked = 0
    for panel, sl in zip(panels, level_slices(per_level)):
        assigned = arrays["assigned_gt"][sl]
        for prior in priors[sl][assigned >= 1]:
            corners = [(int(np.floor(prior[0])), int(np.floor(prior[1]))),
                       (int(np.ceil(prior[2])) - 1, int(np.ceil(prior[3])) - 1)]
            inside = [(x, y) for x, y in corners if 0 <= x < w and 0 <= y < h]
            assert inside
            for x, y in inside:
                assert colour_at(panel.image, x, y) == draw.gt_colour(0)
            checked += 1
        assert panel.title.startswith("stride ") and f"{int((assigned >= 1).sum())} pos" in panel.title
    assert checked == len(arrays["pos_inds"]) > 0


def test_level_title_counts_sampled_negatives_by_that_name():
    priors, arrays = box_arrays()
    panels = anchor_panels(canvas(), arrays, priors, [8, 16])
    assert panels[0].title == "stride 8: 1 pos 1 ign 1 sampled neg"
    assert level_counts(arrays["assigned_gt"][:3], None) == "1 pos 1 ign"  # no sampler: no negatives counted


def test_legend_swatches_are_drawn_like_the_panels():
    strip = legend.legend_strip(900, [legend.GT, legend.POSITIVE, legend.IGNORED, legend.SAMPLED_NEGATIVE], STYLE)
    assert strip.shape == (legend.STRIP_HEIGHT, 900, 3)
    top = (legend.STRIP_HEIGHT - legend.SWATCH) // 2
    gt = strip[top:top + legend.SWATCH, 6:6 + legend.SWATCH]
    assert colour_at(gt, 1, 1) == draw.gt_colour(0)  # the thick outline, as draw_gts
    centre = legend.SWATCH // 2
    tinted = tuple(int(v) for v in draw.blend(draw.blank(1, 1), draw.blank(1, 1, draw.gt_colour(0)),
                                              np.ones((1, 1), bool), STYLE.positive_tint)[0, 0])
    x = 6 + legend.SWATCH + 6 + cv2.getTextSize(legend.GT, draw.FONT, legend.TEXT_SCALE, 1)[0][0] + 18
    positive = strip[top:top + legend.SWATCH, x:x + legend.SWATCH]
    assert colour_at(positive, centre, centre) == tinted and colour_at(positive, 1, 1) == draw.gt_colour(0)


def test_legend_wraps_onto_rows_when_narrow():
    strip = legend.legend_strip(200, list(legend.KINDS), STYLE)
    assert strip.shape[0] > legend.STRIP_HEIGHT and strip.shape[0] % legend.STRIP_HEIGHT == 0


@pytest.mark.parametrize("method, kinds", [
    ("fpn", [legend.GT, legend.POSITIVE, legend.IGNORED, legend.SAMPLED_NEGATIVE]),
    ("retinanet", [legend.GT, legend.POSITIVE, legend.IGNORED]),
    ("yolov3", [legend.GT, legend.POSITIVE, legend.IGNORED]),
    ("yolov5", [legend.GT, legend.POSITIVE, legend.IGNORED]),
    ("fcos", [legend.GT, legend.POSITIVE_POINT]),
    ("centernet", [legend.GT, legend.POSITIVE_POINT, legend.PEAK]),
])
def test_legend_names_what_each_method_draws(method, kinds):
    cfg = anchor_config(method)
    arrays = label_image(np.array([[182, 80, 266, 178]], np.float32), np.zeros(1, np.int32),
                         np.zeros((0, 4), np.float32), 512, 512, cfg, rng_for(0, "x"))
    priors, _ = priors_for(cfg, 512, 512)
    assert legend_kinds(arrays, priors) == kinds


def test_centernet_heat_panel_is_the_rebuilt_target_with_its_peaks_at_1():
    cfg = anchor_config("centernet")
    boxes = np.array([[182, 80, 266, 178], [40, 300, 200, 420]], np.float32)
    arrays = label_image(boxes, np.array([0, 3], np.int32), np.zeros((0, 4), np.float32), 512, 512, cfg,
                         rng_for(0, "x"))
    stride = cfg.strides[0]
    dense = dense_heatmap(arrays, stride)
    h, w = (int(v) for v in arrays["pad_shape"])
    assert dense.shape == (h, w)
    cells = centernet_heatmap(arrays["heatmap_peaks"], arrays["heatmap_radii"], cfg.head.num_classes,
                              (h // stride, w // stride)).max(axis=0)
    np.testing.assert_array_equal(dense[::stride, ::stride], cells)
    for _, y, x in arrays["heatmap_peaks"]:
        assert dense[y * stride, x * stride] == 1.0
    priors, _ = priors_for(cfg, 512, 512)
    panels = anchor_panels(draw.blank(h, w, GREY), {**arrays, "heatmap": dense}, priors, cfg.strides)
    assert [p.title for p in panels] == ["stride 4: 2 pos 0 ign", "target heat map, 2 peaks"]
    heat = panels[1].image
    assert heat.shape == (h + legend.SCALE_HEIGHT, w, 3)
    y, x = arrays["heatmap_peaks"][0, 1:] * stride
    np.testing.assert_array_equal(heat[y, x], legend.viridis(np.array([1.0]))[0])
    assert not heat[:h][dense == 0].any()  # black wherever the target is 0
