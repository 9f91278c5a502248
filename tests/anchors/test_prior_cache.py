"""Priors are built once per (config, padded shape, feature maps) and handed out read-only."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.anchors import prior_cache
from samplegen.anchors.methods import anchor_config, input_geometry, label_image
from samplegen.anchors.recipes import grid


def test_same_geometry_is_built_once_and_read_only():
    prior_cache.clear()
    calls = []

    def builder(cfg, g):
        calls.append(g.pad_shape)
        return grid.priors(cfg, g)

    cfg = anchor_config("fpn", environ={})
    a, b = input_geometry(cfg, 640, 480), input_geometry(cfg, 641, 480)   # other size, same padded input
    assert a.pad_shape == b.pad_shape and a.img_shape != b.img_shape
    first = prior_cache.memo(builder, cfg, a)
    again = prior_cache.memo(builder, cfg, b)
    assert calls == [a.pad_shape] and again[0] is first[0]
    with pytest.raises(ValueError):
        first[0][0, 0] = 1
    portrait = input_geometry(cfg, 480, 640)
    other = prior_cache.memo(builder, cfg, portrait)
    assert calls == [a.pad_shape, portrait.pad_shape] and not np.array_equal(other[0], first[0])


def test_labels_do_not_depend_on_the_cache():
    cfg = anchor_config("retinanet", environ={})
    gts = np.array([[10, 20, 200, 220], [300, 100, 420, 300]], np.float32)
    labels = np.array([1, 2], np.int32)
    prior_cache.clear()
    cold = label_image(gts, labels, np.zeros((0, 4), np.float32), 640, 480, cfg, np.random.default_rng(0))
    warm = label_image(gts, labels, np.zeros((0, 4), np.float32), 640, 480, cfg, np.random.default_rng(0))
    assert cold.keys() == warm.keys() and all(np.array_equal(cold[k], warm[k]) for k in cold)
