"""Windowed IoU on grid priors (`assign.windows`) gives the chunked full matrix's assignment bit for
bit, on real prior generators and adversarial boxes: ties between identical GTs, boxes on cell
borders, 1 px and whole-image boxes, many boxes in one cell, ignore regions, zero-area boxes (the
fallback); and with pruning (no dense max_iou) the same labels, max_iou exact at the positives."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.anchors.assign.max_iou import assign_max_iou, prune_bound
from samplegen.anchors.assign.torchvision import assign_tv_matcher, assign_tv_ssd_matcher
from samplegen.anchors.assign.windows import prior_grid
from samplegen.anchors.methods import anchor_config, input_geometry, geometry_priors
from samplegen.boxes import iou

F32 = np.float32


def grid_of(method: str, width: int, height: int, compat: str = "mmdet"):
    cfg = anchor_config(method, {"compat": compat}, environ={})
    g = input_geometry(cfg, width, height)
    priors, counts = geometry_priors(cfg, g)
    layout = prior_grid(priors, counts, g.featmap_sizes)
    assert layout is not None, method
    return cfg, g, np.array(priors), layout


def adversarial_boxes(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """float32 [G, 4] in network pixels: random, aligned to the stride-8/16 grid, duplicated,
    1 px, whole image, and 30 boxes around one cell."""
    w, h = F32(width), F32(height)
    xy = rng.uniform(0, 1, (12, 2)) * [width, height]
    wh = np.exp(rng.uniform(np.log(4), np.log(min(width, height)), (12, 2)))
    random = np.concatenate([xy, np.minimum(xy + wh, [width, height])], axis=1)
    aligned = np.array([[64, 64, 96, 96], [128, 32, 256, 288], [16, 16, 48, 80]], np.float64)
    cell = np.array([200.0, 200.0])
    crowd = np.concatenate([cell + rng.uniform(-3, 3, (30, 2)), cell + 20 + rng.uniform(-8, 8, (30, 2))], axis=1)
    boxes = np.concatenate([random, aligned, aligned[:1], [[10, 10, 11, 11]], [[0, 0, width, height]], crowd])
    out = boxes.astype(F32)
    out[:, 0::2] = np.clip(out[:, 0::2], 0, w)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, h)
    return out


def same(a, b, fields=("assigned_gt", "labels", "max_iou")) -> None:
    for field in fields:
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and np.array_equal(x, y), field


CASES = [("fpn", 640, 480), ("retinanet", 500, 375), ("faster_rcnn", 427, 640), ("ssd300", 640, 480),
         ("ssd512", 333, 500)]


@pytest.mark.parametrize("method, width, height", CASES)
def test_windowed_max_iou_equals_the_full_matrix(method, width, height):
    cfg, g, priors, layout = grid_of(method, width, height)
    rng = np.random.default_rng(hash(method) % 2**32)
    h, w = g.img_shape
    gts = adversarial_boxes(rng, w, h)
    labels = rng.integers(0, 80, len(gts)).astype(np.int32)
    none = np.zeros((0, 4), F32)
    full = assign_max_iou(priors, gts, labels, none, cfg.assigner)
    windowed = assign_max_iou(priors, gts, labels, none, cfg.assigner, grid=layout)
    same(full, windowed)
    assert (full.assigned_gt > 0).any() and (full.assigned_gt == 0).any()


@pytest.mark.parametrize("method, width, height", CASES)
def test_pruned_windows_give_the_same_labels_and_exact_positive_ious(method, width, height):
    cfg, g, priors, layout = grid_of(method, width, height)
    rng = np.random.default_rng(7)
    h, w = g.img_shape
    gts = adversarial_boxes(rng, w, h)
    labels = np.arange(len(gts), dtype=np.int32)
    none = np.zeros((0, 4), F32)
    full = assign_max_iou(priors, gts, labels, none, cfg.assigner)
    pruned = assign_max_iou(priors, gts, labels, none, cfg.assigner, grid=layout, exact_max_iou=False)
    same(full, pruned, ("assigned_gt", "labels"))
    pos = full.assigned_gt > 0
    np.testing.assert_array_equal(pruned.max_iou[pos], full.max_iou[pos])
    bound = F32(prune_bound(cfg.assigner))
    reached = full.max_iou >= bound
    np.testing.assert_array_equal(pruned.max_iou[reached], full.max_iou[reached])
    assert (pruned.max_iou <= full.max_iou).all()


def test_ignore_regions_and_identical_gts():
    cfg, g, priors, layout = grid_of("fpn", 640, 480)
    params = cfg.assigner.__class__(**{**cfg.assigner.__dict__, "ignore_iof_thr": 0.5})
    gts = np.array([[100, 100, 180, 180], [100, 100, 180, 180], [400, 300, 700, 600]], F32)
    ignores = np.array([[380, 280, 720, 620], [0, 0, 40, 40]], F32)
    labels = np.array([3, 4, 5], np.int32)
    full = assign_max_iou(priors, gts, labels, ignores, params)
    windowed = assign_max_iou(priors, gts, labels, ignores, params, grid=layout)
    same(full, windowed)
    assert (full.max_iou == -1).any()
    # identical GTs: each GT's best priors are the same, and the later GT overwrites them (mmdet)
    assert (full.assigned_gt == 2).any() and not (full.assigned_gt == 1).any()


def test_zero_area_gt_falls_back_to_the_full_matrix():
    """A zero-area GT has max IoU 0 with every prior: RetinaNet's min_pos_iou 0 then makes every
    prior at IoU 0 its positive (mmdet #8289); only the full matrix sees those."""
    cfg, g, priors, layout = grid_of("retinanet", 640, 480)
    gts = np.array([[50, 50, 50, 90], [200, 200, 300, 260]], F32)
    labels = np.array([1, 2], np.int32)
    none = np.zeros((0, 4), F32)
    full = assign_max_iou(priors, gts, labels, none, cfg.assigner)
    for exact in (True, False):
        same(full, assign_max_iou(priors, gts, labels, none, cfg.assigner, grid=layout, exact_max_iou=exact))
    assert (full.assigned_gt == 1).sum() > len(priors) // 2


@pytest.mark.parametrize("method", ["fpn", "ssd300"])
def test_torchvision_matchers_windowed(method):
    cfg, g, priors, layout = grid_of(method, 640, 480, "torchvision")
    rng = np.random.default_rng(3)
    h, w = g.img_shape
    gts = adversarial_boxes(rng, w, h)
    labels = np.arange(len(gts), dtype=np.int32)
    if method == "ssd300":
        same(assign_tv_ssd_matcher(priors, gts, labels, 0.5), assign_tv_ssd_matcher(priors, gts, labels, 0.5,
                                                                                     grid=layout))
    else:
        same(assign_tv_matcher(priors, gts, labels, 0.7, 0.3, True),
             assign_tv_matcher(priors, gts, labels, 0.7, 0.3, True, grid=layout))


def test_windowed_ious_are_the_matrix_values():
    """The windows' values are `boxes.iou`'s, bit for bit: max over GTs per prior."""
    cfg, g, priors, layout = grid_of("retinanet", 640, 480)
    gts = adversarial_boxes(np.random.default_rng(11), *g.img_shape[::-1])
    labels = np.zeros(len(gts), np.int32)
    windowed = assign_max_iou(priors, gts, labels, np.zeros((0, 4), F32), cfg.assigner, grid=layout)
    np.testing.assert_array_equal(windowed.max_iou, iou(gts, priors).max(axis=0))


def test_non_grid_priors_have_no_layout():
    cfg, g, priors, layout = grid_of("fpn", 640, 480)
    counts = [lv.size for lv in layout]
    shuffled = priors[np.random.default_rng(0).permutation(len(priors))]
    assert prior_grid(shuffled, counts, g.featmap_sizes) is None
    assert prior_grid(priors[:-3], counts, g.featmap_sizes) is None
    assert prior_grid(priors, counts[:-1], g.featmap_sizes) is None
