"""YOLOv5 (`samplegen.anchors.yolov5`): hand-checked edge cases, and the recipe against golden vectors
from the yolov5 package's own loader (LoadImagesAndLabels, augment off) and
ComputeLoss.build_targets (scripts/make_yolo_centernet_goldens.py; the npz files carry their inputs)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplegen.anchors.methods import anchor_config, priors_for
from samplegen.anchors.recipes import yolov5 as y5
from samplegen.anchors.labels import NEGATIVE
from samplegen.anchors.gt_boxes import overlaps_image
from samplegen.errors import ConfigError
from tests.anchors.test_yolov3 import Golden

GOLDEN_FILES = sorted((Path(__file__).resolve().parent.parent / "golden" / "yolov5").glob("*.npz"))
TARGET_TOL = 1e-5
TARGET_KEYS = ("target_gt", "target_anchor", "target_cell", "target_cls", "targets_per_level")


def load(overrides: dict | None = None) -> y5.Yolov5Config:
    return anchor_config("yolov5", overrides, environ={})


@pytest.fixture(scope="module")
def cfg() -> y5.Yolov5Config:
    return load()


def test_letterbox_geometry(cfg):
    lb = y5.letterbox_geometry(cfg, 640, 480)
    assert lb.geometry.img_shape == (480, 640) and lb.pad == (0.0, 80.0)
    # 1333 x 800: load_image gives ceil(800 * 640 / 1333) = 385 rows, padded by 127.5 each side
    lb = y5.letterbox_geometry(cfg, 1333, 800)
    assert lb.geometry.img_shape == (385, 640) and lb.pad == (0.0, 127.5)
    assert lb.geometry.featmap_sizes == ((80, 80), (40, 40), (20, 20))


def test_priors_layout(cfg):
    boxes, counts = priors_for(cfg, 480, 640)
    assert counts.tolist() == [19200, 4800, 1200]
    # (a, y, x) order: anchor 0 of P3 at cell (0, 0) then (0, 1); anchor 1 starts at 6400
    np.testing.assert_array_equal(boxes[[0, 1, 6400]], [[-1, -2.5, 9, 10.5], [7, -2.5, 17, 10.5], [-4, -11, 12, 19]])


def test_shape_ratio_threshold_is_strict():
    # an 8x8 grid, a GT 4 cells wide on a 1-cell anchor: r = 4 is not < 4, no match; 3.75 matches.
    # Its centre x = y = 4.5 sits exactly on the half: 4.5 % 1 < 0.5 is false, so no neighbours
    anchors = np.array([[1.0, 1.0]], np.float32)
    for w, expected in ((4.0, 0), (3.75, 1)):
        xywhn = np.array([[4.5 / 8, 4.5 / 8, w / 8, 1 / 8]], np.float32)
        out = y5.build_targets_single_level(xywhn, anchors, (8, 8), 4.0, 0.5)
        assert len(out["gt"]) == expected


def test_neighbour_cells_by_the_half_rule():
    anchors = np.array([[1.0, 1.0]], np.float32)
    # centre (2.25, 3.75) on a 10x10 grid: x % 1 < 0.5 and x > 1 -> left neighbour (x - 1);
    # (10 - 3.75) % 1 = 0.25 < 0.5 -> bottom neighbour (y + 1)
    out = y5.build_targets_single_level(np.array([[0.225, 0.375, 0.1, 0.1]], np.float32), anchors, (10, 10), 4.0, 0.5)
    cells = list(zip(out["gi"].tolist(), out["gj"].tolist()))
    assert cells == [(2, 3), (1, 3), (2, 4)]
    np.testing.assert_allclose(out["box"][:, :2], [[0.25, 0.75], [1.25, 0.75], [0.25, -0.25]], atol=1e-6)


def test_duplicates_removed_and_rows_sorted(cfg):
    boxes = np.array([[300, 200, 330, 260], [10, 10, 200, 300], [300, 200, 330, 260]], np.float32)
    out = y5.label(boxes, np.array([2, 1, 2]), None, 640, 480, cfg)
    # np.unique sorts the rows (class first): the class-1 box comes first, one copy of the other
    assert out["gt_labels"].tolist() == [1, 2] and out["gt_source"].tolist() == [1, 0]


def test_empty_gt(cfg):
    out = y5.label(np.zeros((0, 4), np.float32), np.zeros(0), None, 640, 480, cfg)
    assert (out["assigned_gt"] == NEGATIVE).all() and out["targets_per_level"].tolist() == [0, 0, 0]
    assert out["target_box"].shape == (0, 4) and out["pos_targets"].shape == (0, 4)


def test_per_prior_view_keeps_the_last_triple(cfg):
    boxes = np.array([[100, 100, 140, 140], [102, 102, 138, 138]], np.float32)   # same cells, same anchors
    out = y5.label(boxes, np.array([0, 1]), None, 640, 640, cfg)
    prior, gt = out["target_prior"], out["target_gt"]
    for p in np.unique(prior):
        assert out["assigned_gt"][p] == gt[prior == p][-1] + 1


def test_validate_names_the_key():
    with pytest.raises(ConfigError, match="assigner.anchor_t"):
        load({"assigner": {"anchor_t": 1.0}})
    with pytest.raises(ConfigError, match="input.img_size"):
        load({"input": {"img_size": 600}})


def check_case(g: Golden, i: int, cfg: y5.Yolov5Config) -> float:
    gt, labels, ignore, width, height = g.inputs(i)
    out = y5.label(gt, labels, ignore, width, height, cfg)
    np.testing.assert_array_equal(out["letterbox_pad"], g.get("letterbox_pad", i))
    # the label chain: rows as the loader keeps them, then letterboxed and clipped
    keep = overlaps_image(gt, width, height)
    rows, _ = y5.yolo_rows(gt[keep], labels[keep], width, height)
    np.testing.assert_array_equal(rows, g.get("rows", i).reshape(-1, 5))
    _, xywhn = y5.letterbox_labels(rows, y5.letterbox_geometry(cfg, width, height), cfg.input.label_clip_eps)
    np.testing.assert_array_equal(xywhn, g.get("labels_out", i).reshape(-1, 5)[:, 1:])
    for key in TARGET_KEYS:
        expected = g.get(key, i)
        assert out[key].size == expected.size, f"{key}: {out[key].size} values, expected {expected.size}"
        np.testing.assert_array_equal(out[key], expected.reshape(out[key].shape), err_msg=key)
    worst = 0.0
    for key, width_ in (("target_box", 4), ("target_anchor_wh", 2)):
        expected = g.get(key, i).reshape(-1, width_)
        np.testing.assert_allclose(out[key], expected, rtol=0, atol=TARGET_TOL, err_msg=key)
        if len(expected):
            worst = max(worst, float(np.abs(out[key].astype(np.float64) - expected).max()))
    return worst


@pytest.mark.skipif(not GOLDEN_FILES, reason="no golden files in tests/golden/yolov5")
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_golden(path: Path, cfg):
    g = Golden(path)
    failures = []
    for i, name in enumerate(g.names):
        try:
            check_case(g, i, cfg)
        except AssertionError as exc:
            failures.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else 'assertion'}")
    assert not failures, f"{len(failures)}/{len(g.names)} cases differ:\n" + "\n".join(failures[:10])
