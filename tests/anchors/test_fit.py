"""fit-anchors: shape IoU, 1 - IoU k-means, best-prior recall, the search's scores against the real
priors, the search itself (never below the preset, constraints kept) and valid fitted configs."""
from __future__ import annotations


import numpy as np
import pytest

from samplegen.anchors.fit import best_prior_iou, fit_boxes, fittable, network_boxes, recall_table
from samplegen.anchors.fit_search import Criterion, FitSpace, local_search
from samplegen.anchors.kmeans import kmeans_iou, mean_best_shape_iou
from samplegen.anchors.recipes.yolov5 import shape_ratio_scores
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


@pytest.mark.parametrize("method", ["faster_rcnn", "ssd300", "retinanet", "yolov3", "yolov5"])
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


def test_yolov5_boxes_are_letterboxed():
    """640x480 at 640: shifted down by the 80 px pad, as YOLOv5's loader puts them."""
    cfg = anchor_config("yolov5")
    record = Record("a", "a.jpg", 640, 480, np.array([[10, 20, 200, 300]], np.float32), np.zeros(1, np.int32))
    np.testing.assert_allclose(network_boxes(record, cfg), [[10, 100, 200, 380]], atol=1e-3)


FITTABLE = sorted(m for m, spec in METHODS.items() if spec.fit_space is not None)


def test_every_method_is_fittable_or_says_why():
    for name, spec in METHODS.items():
        assert (spec.fit_space is None) == (spec.not_fittable is not None), name
    assert {"fcos", "centernet"}.isdisjoint(FITTABLE)
    assert {"faster_rcnn", "fpn", "retinanet", "ssd300", "ssd512", "atss", "yolov3", "yolov5"} <= set(FITTABLE)


def random_records(count: int, seed: int) -> list[Record]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        w, h = int(rng.integers(300, 800)), int(rng.integers(300, 800))
        xy = rng.uniform(0, 1, (6, 2)) * [w, h]
        wh = np.exp(rng.uniform(np.log(8), np.log(min(w, h)), (6, 2)))
        boxes = np.concatenate([xy, np.minimum(xy + wh, [w, h])], axis=1).astype(np.float32)
        out.append(Record(f"r{i}", f"r{i}.jpg", w, h, boxes, np.zeros(len(boxes), np.int32)))
    return out


@pytest.mark.parametrize("method", ["fpn", "retinanet", "ssd300", "yolov3", "atss"])
def test_grid_search_scores_are_the_real_best_prior_ious(method):
    """The search's nearest-cell scores of the preset equal the best IoU over the real priors."""
    cfg = anchor_config(method)
    records = random_records(4, 1)
    space = METHODS[method].fit_space(cfg, fit_boxes(records, cfg), np.random.default_rng(0))
    scores, _ = space.scores(space.start)
    np.testing.assert_allclose(scores, best_prior_iou(records, cfg)[1], atol=2e-5)


@pytest.mark.parametrize("method", FITTABLE)
def test_every_fit_space_expresses_valid_configs_of_the_same_shape(method):
    cfg = anchor_config(method)
    space = METHODS[method].fit_space(cfg, fit_boxes(random_records(3, 2), cfg), np.random.default_rng(3))
    for theta in (space.start, *space.starts, space.start + 0.2):
        fitted = anchor_config(method, space.overrides(theta))
        assert priors_for(fitted, 480, 640)[1].tolist() == priors_for(cfg, 480, 640)[1].tolist()


def toy_space(scores, start=(0.0, 0.0), criterion=Criterion(0.5, 0.3)) -> FitSpace:
    return FitSpace(np.array(start), (), scores, lambda theta: {"theta": theta.tolist()}, criterion)


def test_search_climbs_and_never_ends_below_the_preset():
    target = np.array([0.9, -0.6])
    boxes = np.linspace(0, 1, 50)

    def scores(theta):               # per "GT" scores peaking at `target`
        return np.exp(-np.sum((theta - target) ** 2)) * (0.5 + boxes / 2), None

    result = local_search(toy_space(scores))
    assert result.improved and result.best > result.preset
    np.testing.assert_allclose(result.theta, target, atol=0.03)
    assert [v for _, v in result.path] == sorted((v for _, v in result.path), reverse=True)
    flat = local_search(toy_space(lambda theta: (np.full(5, 0.6), None)))
    assert not flat.improved and flat.path == () and np.array_equal(flat.theta, [0.0, 0.0])


def test_search_keeps_low_quality_recall_and_positives():
    """Moving theta[0] up raises the positive recall but drops a GT under the low-quality
    threshold (or, in the second space, lowers the positives count): never a candidate."""
    def losing_gt(theta):
        up = theta[0] > 0
        return np.array([0.9 if up else 0.4, 0.8 if up else 0.4, 0.1 if up else 0.35]), None

    def losing_positives(theta):
        return np.array([0.6 + 0.1 * theta[0], 0.4]), int(10 - 5 * (theta[0] > 0))

    for scores in (losing_gt, losing_positives):
        result = local_search(toy_space(scores, start=(0.0,)))
        assert not result.improved, scores.__name__


def test_yolov5_shape_ratio_scores():
    wh = np.array([[10.0, 20.0], [100.0, 100.0]])
    anchors = np.array([[10.0, 10.0], [50.0, 200.0]])
    # box 0: anchor 0 -> min(1, 0.5) = 0.5; anchor 1 -> min(0.2, 0.1) = 0.1; box 1: 0.1 and min(0.5, 0.5)
    np.testing.assert_allclose(shape_ratio_scores(wh, anchors), [0.5, 0.5])


def test_fcos_and_torchvision_have_nothing_to_fit():
    with pytest.raises(ValueError, match="anchor-free"):
        fittable(anchor_config("fcos"))
    with pytest.raises(ValueError, match="compat: mmdet"):
        fittable(anchor_config("fpn", {"compat": "torchvision"}))
