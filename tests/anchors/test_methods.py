"""label_image: the npz contract of issue 4 for every method, and the recipe switches."""
import numpy as np
import pytest

from samplegen.anchors.labels import IGNORE, NEGATIVE
from samplegen.anchors.methods import METHODS, anchor_config, label_image, priors_for
from samplegen.anchors.recipes.grid import roi_levels
from samplegen.anchors.valid import inside_flags
from samplegen.errors import ConfigError

GTS = np.array([[10, 20, 200, 220], [300, 100, 420, 300], [50, 50, 60, 58]], dtype=np.float32)
LABELS = np.array([1, 17, 3], dtype=np.int32)
NO_BOXES = np.zeros((0, 4), np.float32)
COMMON = {"assigned_gt": np.int32, "labels": np.int32, "pos_inds": np.int32, "pos_targets": np.float32,
          "priors_per_level": np.int32, "img_shape": np.int32, "pad_shape": np.int32,
          "scale_factor": np.float64, "gt_boxes": np.float32, "gt_labels": np.int32}


def _label(method, overrides=None, gts=GTS, labels=LABELS, ignore=NO_BOXES, proposals=None):
    cfg = anchor_config(method, overrides)
    return label_image(gts, labels, ignore, 640, 480, cfg, np.random.default_rng(0), proposals)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_contract_keys_dtypes_and_shapes(method):
    out = _label(method)
    for key, dtype in COMMON.items():
        assert out[key].dtype == dtype, key
    num = out["priors_per_level"].sum()
    assert out["assigned_gt"].shape == out["labels"].shape == (num,)
    assert out["pos_targets"].shape == (len(out["pos_inds"]), 4)
    assert (out["assigned_gt"][out["pos_inds"]] > 0).all()
    assert out["gt_boxes"].shape == (3, 4) and out["gt_labels"].tolist() == LABELS.tolist()
    iou_method = method not in ("fcos", "centernet", "yolov5")     # points, and YOLOv5's shape match
    assert ("max_iou" in out) == iou_method and ("centerness" in out) == (method == "fcos")


def test_priors_for_matches_label_image_order():
    cfg = anchor_config("fpn")
    priors, counts = priors_for(cfg, 480, 640)
    out = _label("fpn")
    assert priors.shape == (counts.sum(), 4) and counts.tolist() == out["priors_per_level"].tolist()


def test_fcos_priors_are_points():
    cfg = anchor_config("fcos")
    points, counts = priors_for(cfg, 480, 640)
    assert points.shape == (counts.sum(), 2)
    assert points[0].tolist() == [4.0, 4.0]


def test_rpn_samples_256_and_retinanet_does_not_sample():
    assert _label("fpn")["sampled"].sum() == 256
    assert "sampled" not in _label("retinanet")


def test_fpn_records_roi_levels():
    out = _label("fpn")
    boxes = out["gt_boxes"].astype(np.float64)
    side = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    # FPN eq. 1 by hand: k = floor(4 + log2(side / 224)), clamped to [2, 5]
    expected = [min(5, max(2, int(np.floor(4 + np.log2(s / 224))))) for s in side]
    assert out["gt_level"].dtype == np.int32 and out["gt_level"].tolist() == expected
    assert len(set(expected)) > 1           # the three GTs fall on different levels
    assert "gt_level" not in _label("faster_rcnn")


def test_roi_level_boundaries():
    boxes = np.array([[0, 0, 111, 111], [0, 0, 112, 112], [0, 0, 224, 224], [0, 0, 448, 448], [0, 0, 2000, 2000],
                      [5, 5, 5, 9]], dtype=np.float32)
    assert roi_levels(boxes, 224, 4, (2, 5)).tolist() == [2, 3, 4, 5, 5, 2]


def test_ssd_labels_every_prior_and_records_the_budget():
    out = _label("ssd300")
    num_pos = len(out["pos_inds"])
    assert out["neg_budget"] == min(3 * num_pos, 8732 - num_pos)
    assert "sampled" not in out and out["assigned_gt"].shape == (8732,)
    assert (out["assigned_gt"] != IGNORE).all()


def test_ssd_random_negative_sampling_is_an_explicit_option():
    out = _label("ssd300", {"neg_mining.sampling": "random"})
    pos = out["assigned_gt"] > 0
    assert out["sampled"][pos].all()
    assert (out["sampled"] & (out["assigned_gt"] == NEGATIVE)).sum() == out["neg_budget"]


def test_empty_gt_gives_all_negatives_everywhere():
    for method in ("fpn", "retinanet", "ssd300", "fcos"):
        out = _label(method, gts=NO_BOXES, labels=np.zeros(0, np.int32))
        assert (out["assigned_gt"] == NEGATIVE).all() and len(out["pos_inds"]) == 0


def test_rcnn_stage_needs_proposals_and_prepends_gts():
    with pytest.raises(ValueError, match="proposals"):
        _label("faster_rcnn", {"stage": "rcnn"})
    props = np.array([[12, 22, 198, 215], [400, 400, 500, 470]], dtype=np.float32)
    out = _label("faster_rcnn", {"stage": "rcnn"}, proposals=props)
    assert out["priors_per_level"].tolist() == [5]
    assert out["assigned_gt"][:3].tolist() == [1, 2, 3]
    assert out["sampled"].sum() == 5
    np.testing.assert_array_equal(out["pos_targets"][:3], np.zeros((3, 4)))


def test_ignore_regions_only_with_a_threshold():
    crowd = np.array([[400, 300, 640, 480]], np.float32)
    off = _label("retinanet", ignore=crowd)
    on = _label("retinanet", {"assigner.ignore_iof_thr": 0.5}, ignore=crowd)
    assert (on["max_iou"] == -1).sum() > 0 and (off["max_iou"] == -1).sum() == 0


def test_allowed_border_marks_outside_anchors_ignored():
    out = _label("fpn", {"allowed_border": 0})
    priors, _ = priors_for(anchor_config("fpn"), 480, 640)
    outside = ~inside_flags(priors, tuple(out["pad_shape"]), 0)
    assert outside.any() and (out["assigned_gt"][outside] == IGNORE).all()


def _has_torchvision_variant(method: str) -> bool:
    try:
        anchor_config(method, {"compat": "torchvision"})
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("method", sorted(m for m in METHODS if _has_torchvision_variant(m)))
def test_torchvision_compat_runs_with_the_same_contract(method):
    out = _label(method, {"compat": "torchvision"})
    assert out["assigned_gt"].shape == (out["priors_per_level"].sum(),)


def test_bad_box_shapes_are_rejected():
    with pytest.raises(ValueError, match="gt_boxes"):
        _label("fpn", gts=np.zeros((2, 3), np.float32), labels=np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="gt_labels"):
        _label("fpn", labels=np.zeros(2, np.int32))


def test_boxes_outside_the_image_are_dropped_like_mmdets_coco_dataset():
    gts = np.vstack([GTS, [[700, 10, 800, 50]]]).astype(np.float32)     # right of the 640 px image
    labels = np.append(LABELS, 9).astype(np.int32)
    out = _label("retinanet", gts=gts, labels=labels)
    assert out["gt_boxes"].shape == (3, 4) and 9 not in out["gt_labels"]
    kept = _label("retinanet", {"input.drop_outside_gt": False}, gts=gts, labels=labels)
    assert kept["gt_boxes"].shape == (4, 4)
    assert (kept["assigned_gt"] == 4).sum() > 100_000        # zero-area GT ties with every prior (#8289)
