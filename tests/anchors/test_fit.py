"""fit-anchors: shape IoU, 1 - IoU k-means, best-prior recall and the suggested config."""
from __future__ import annotations


import numpy as np
import pytest

from samplegen.anchors.fit import best_prior_iou, network_boxes, recall_table, suggest_overrides
from samplegen.anchors.kmeans import kmeans_iou, mean_best_shape_iou
from samplegen.anchors.methods import METHODS, anchor_config, priors_for
from samplegen.boxes import shape_iou
from samplegen.record import Record


def test_shape_iou_of_centred_boxes():
    # 10x10 vs 20x5: intersection 10x5 = 50, union 100 + 100 - 50 = 150
    assert shape_iou(np.array([[10.0, 10.0]]), np.array([[20.0, 5.0], [10.0, 10.0]]))[0] == pytest.approx([1 / 3, 1.0])


def test_kmeans_recovers_separated_shape_clusters():
    rng = np.random.default_rng(1)
    truth = np.array([[10.0, 20.0], [40.0, 40.0], [160.0, 80.0]])
    wh = np.concatenate([c * rng.uniform(0.95, 1.05, size=(50, 2)) for c in truth])
    centres = kmeans_iou(wh, 3, np.random.default_rng(0))
    assert np.allclose(centres, truth, rtol=0.06)
    assert np.array_equal(centres, kmeans_iou(wh, 3, np.random.default_rng(0)))  # seeded
    assert mean_best_shape_iou(wh, centres) > 0.9


def test_kmeans_with_fewer_distinct_shapes_than_k():
    centres = kmeans_iou(np.array([[4.0, 4.0], [4.0, 4.0], [1.0, 1.0]]), 3, np.random.default_rng(0))
    assert centres.tolist() == [[1.0, 1.0], [1.0, 1.0], [4.0, 4.0]]  # distinct shapes, repeated, by area


def test_recall_table_counts_per_bucket():
    sizes = np.array([10.0, 20.0, 30.0, 100.0, 600.0])
    best = np.array([0.2, 0.55, 0.75, 0.3, 0.9], np.float32)
    table = recall_table(sizes, best)
    assert table["0-16"] == {"boxes": 1, "iou>=0.3": 0.0, "iou>=0.5": 0.0, "iou>=0.7": 0.0}
    assert table["16-32"] == {"boxes": 2, "iou>=0.3": 1.0, "iou>=0.5": 1.0, "iou>=0.7": 0.5}
    assert table["32-64"]["boxes"] == 0 and table["32-64"]["iou>=0.5"] is None
    assert table["512+"]["iou>=0.7"] == 1.0
    assert table["all"] == {"boxes": 5, "iou>=0.3": 0.8, "iou>=0.5": 0.6, "iou>=0.7": 0.4}


def dense_best_iou(boxes: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Independent float64 best IoU per box."""
    b, p = boxes.astype(np.float64), priors.astype(np.float64)
    w = np.clip(np.minimum(b[:, None, 2], p[None, :, 2]) - np.maximum(b[:, None, 0], p[None, :, 0]), 0, None)
    h = np.clip(np.minimum(b[:, None, 3], p[None, :, 3]) - np.maximum(b[:, None, 1], p[None, :, 1]), 0, None)
    inter = w * h
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return (inter / (area(b)[:, None] + area(p)[None, :] - inter)).max(axis=1)


@pytest.mark.parametrize("method", ["faster_rcnn", "ssd300", "retinanet"])
def test_best_prior_iou_matches_a_dense_float64_computation(method):
    cfg = anchor_config(method)
    records = [Record("a", "a.jpg", 640, 480, np.array([[10, 20, 200, 300], [300, 50, 330, 90]], np.float32),
                      np.zeros(2, np.int32)),
               Record("b", "b.jpg", 500, 375, np.array([[0, 0, 500, 375]], np.float32), np.zeros(1, np.int32))]
    sizes, best = best_prior_iou(records, cfg)
    expected = np.concatenate([dense_best_iou(network_boxes(r, cfg), priors_for(cfg, r.height, r.width)[0])
                               for r in records])
    assert np.allclose(best, expected, atol=1e-5)
    boxes = np.concatenate([network_boxes(r, cfg) for r in records])
    assert np.allclose(sizes, np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


FITTABLE = sorted(m for m, spec in METHODS.items() if spec.suggest is not None)


def test_every_method_is_fittable_or_says_why():
    for name, spec in METHODS.items():
        assert (spec.suggest is None) == (spec.not_fittable is not None), name
    assert "fcos" not in FITTABLE and {"faster_rcnn", "fpn", "retinanet", "ssd300", "atss"} <= set(FITTABLE)


@pytest.mark.parametrize("method", FITTABLE)
def test_suggestion_is_a_valid_config_of_the_same_shape(method):
    cfg = anchor_config(method)
    rng = np.random.default_rng(0)
    wh = np.exp(rng.normal(4.0, 0.8, size=(300, 2)))
    overrides = suggest_overrides(wh, cfg, np.random.default_rng(3))
    fitted = anchor_config(method, overrides)
    assert fitted != cfg
    assert priors_for(fitted, 800, 1333)[1].tolist() == priors_for(cfg, 800, 1333)[1].tolist()


def test_fcos_has_nothing_to_fit():
    cfg = anchor_config("fcos")
    with pytest.raises(ValueError, match="anchor-free"):
        suggest_overrides(np.ones((3, 2)), cfg, np.random.default_rng(0))
