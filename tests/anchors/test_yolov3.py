"""YOLOv3 (`samplegen.anchors.yolo`): hand-checked edge cases, and the recipe against golden vectors
from mmdetection 3.3.0's own YOLOV3Head (scripts/make_yolo_centernet_goldens.py; the npz files carry
their inputs, so neither torch nor the shared data is needed)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from samplegen.anchors.methods import anchor_config, priors_for
from samplegen.anchors.recipes import yolov3 as yolo
from samplegen.anchors.labels import IGNORE, NEGATIVE
from samplegen.errors import ConfigError

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TARGET_TOL = 1e-5


def sha(arr: np.ndarray, dtype: str) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=dtype).tobytes()).hexdigest()


class Golden:
    """Ragged per-key arrays: case i's value of KEY is KEY[offsets[i]:offsets[i + 1]]."""

    def __init__(self, path: Path):
        with np.load(path) as data:
            self.data = {k: data[k] for k in data.files}
        self.names = [str(n) for n in self.data["case_names"]]
        self.preset = str(self.data["preset"])

    def has(self, key: str, i: int) -> bool:
        off = self.data.get(key + ".offsets")
        return off is not None and off[i + 1] > off[i]

    def get(self, key: str, i: int) -> np.ndarray:
        off = self.data[key + ".offsets"]
        return self.data[key][off[i]:off[i + 1]]

    def scalar(self, key: str, i: int):
        return self.get(key, i)[0]

    def inputs(self, i: int):
        return (self.get("in_gt", i), self.get("in_labels", i), self.get("in_ignore", i),
                int(self.scalar("width", i)), int(self.scalar("height", i)))


def load(preset: str, overrides: dict | None = None) -> yolo.Yolov3Config:
    return anchor_config(preset, overrides, environ={})


@pytest.fixture(scope="module")
def cfg() -> yolo.Yolov3Config:
    return load("yolov3")


def test_presets_build_and_differ_only_in_scale():
    big, small = load("yolov3"), load("yolov3_416")
    assert big.input.resize_scale == (608, 608) and small.input.resize_scale == (416, 416)
    assert big.prior_generator == small.prior_generator and big.assigner == small.assigner


def test_prior_count_at_608(cfg):
    # C.2: 22,743 = 3 * (19^2 + 38^2 + 76^2) on a 608 x 608 input
    anchors, counts = priors_for(cfg, 608, 608)
    assert counts.tolist() == [1083, 4332, 17328] and anchors.shape == (22743, 4)
    # first anchor of P5: (116, 90) around the centre (16, 16) of cell (0, 0)
    np.testing.assert_array_equal(anchors[0], [-42, -29, 74, 61])
    # flat index (y W + x) A + a: cell (0, 1) of P5 starts at row 3, shifted by the stride
    np.testing.assert_array_equal(anchors[3], anchors[0] + [32, 0, 32, 0])


def test_geometry_640x480(cfg):
    g = yolo.geometry(cfg, 640, 480)
    assert g.img_shape == (456, 608) and g.pad_shape == (480, 608)
    assert g.featmap_sizes == ((15, 19), (30, 38), (60, 76))


def test_responsible_cell_is_floor_of_the_centre():
    # centre (32, 16) on a 2x2 grid of stride 32: floor -> cell (0, 1), both anchors flagged
    flags = yolo.responsible_flags(np.array([[16, 0, 48, 32]], np.float32), [(2, 2)], [32], 2)
    assert flags.tolist() == [False, False, True, True, False, False, False, False]


def test_responsible_centre_past_the_grid_raises():
    with pytest.raises(ValueError, match="past the last"):
        yolo.responsible_flags(np.array([[60, 60, 70, 70]], np.float32), [(2, 2)], [32], 1)


def test_assign_grid_rules():
    # two priors in the GT's cell (responsible) and one outside with a higher IoU
    priors = np.array([[0, 0, 10, 10], [0, 0, 20, 20], [1, 1, 11, 11]], np.float32)
    responsible = np.array([True, True, False])
    gt = np.array([[0, 0, 10, 11]], np.float32)
    a = yolo.assign_grid(priors, responsible, gt, np.array([5]), yolo.GridAssignerConfig(0.5, 0.5, 0.0, True))
    # prior 0: IoU 10/11 > 0.5 -> positive; prior 1: 110/400 <= 0.5 -> negative; prior 2: IoU 0.68
    # but not responsible -> stays IGNORE, and its max_iou is masked to -1
    assert a.assigned_gt.tolist() == [1, NEGATIVE, IGNORE]
    assert a.labels.tolist() == [5, -1, -1]
    assert a.max_iou[2] == -1


def test_assign_grid_low_quality_takes_best_responsible_prior():
    priors = np.array([[0, 0, 40, 40], [0, 0, 4, 4]], np.float32)
    gt = np.array([[0, 0, 10, 10]], np.float32)   # IoUs 0.0625 and 0.16: below 0.5, step 4 applies
    a = yolo.assign_grid(priors, np.array([True, True]), gt, np.array([0]), yolo.GridAssignerConfig(0.5, 0.5, 0.0, True))
    assert a.assigned_gt.tolist() == [NEGATIVE, 1]


def test_empty_gt_all_negative(cfg):
    out = yolo.label(np.zeros((0, 4), np.float32), np.zeros(0, np.int32), None, 608, 608, cfg)
    assert (out["assigned_gt"] == NEGATIVE).all() and len(out["pos_inds"]) == 0
    assert out["pos_targets"].shape == (0, 4) and not out["responsible"].any()


def test_encode_yolo_clamps_and_logs():
    prior = np.array([[0, 0, 32, 32]], np.float32)
    t = yolo.encode_yolo(prior, np.array([[0, 0, 16, 64]], np.float32), np.array([32]), 1e-6)
    # centre (8, 32) vs (16, 16): tx = -8/32 + 0.5, ty = 16/32 + 0.5 -> clamped to 1 - eps
    np.testing.assert_allclose(t[0], [0.25, 1 - 1e-6, np.log(0.5), np.log(2.0)], rtol=0, atol=1e-7)


def test_validate_names_the_key(cfg):
    with pytest.raises(ConfigError, match="prior_generator.base_sizes"):
        load("yolov3", {"prior_generator": {"base_sizes": [[[10, 13]]]}})
    with pytest.raises(ConfigError, match="assigner.neg_iou_thr"):
        load("yolov3", {"assigner": {"neg_iou_thr": 0.7}})


GOLDEN_FILES = sorted((GOLDEN / "yolov3").glob("*.npz"))


def check_case(g: Golden, i: int, cfg: yolo.Yolov3Config) -> float:
    out = yolo.label(*g.inputs(i), cfg)
    for key in ("img_shape", "pad_shape", "scale_factor", "gt_boxes", "priors_per_level"):
        np.testing.assert_array_equal(out[key], g.get(key, i), err_msg=key)
    height, width = int(g.scalar("height", i)), int(g.scalar("width", i))
    anchors, _ = priors_for(cfg, height, width)
    rows = np.linspace(0, len(anchors) - 1, 16).astype(int)
    np.testing.assert_array_equal(anchors[rows], g.get("priors_rows", i))
    assert sha(anchors, "<f4") == g.scalar("priors_sha", i), "priors differ"
    assert sha(out["responsible"], "|u1") == g.scalar("responsible_sha", i), "responsible flags differ"
    if g.has("nz_idx", i):
        nz = np.flatnonzero(out["assigned_gt"] != NEGATIVE)
        np.testing.assert_array_equal(nz, g.get("nz_idx", i))
        np.testing.assert_array_equal(out["assigned_gt"][nz], g.get("nz_val", i))
    assert sha(out["assigned_gt"], "<i4") == g.scalar("assigned_gt_sha", i), "assigned_gt differs"
    assert sha(out["labels"], "<i4") == g.scalar("labels_sha", i), "labels differ"
    assert sha(out["max_iou"], "<f4") == g.scalar("max_iou_sha", i), "max_iou differs"
    np.testing.assert_array_equal(out["pos_inds"], g.get("pos_inds", i))
    np.testing.assert_array_equal(out["max_iou"][out["pos_inds"]], g.get("max_iou_pos", i))
    expected = g.get("pos_targets", i).reshape(-1, 4)
    np.testing.assert_allclose(out["pos_targets"], expected, rtol=0, atol=TARGET_TOL)
    return float(np.abs(out["pos_targets"].astype(np.float64) - expected).max()) if len(expected) else 0.0


@pytest.mark.skipif(not GOLDEN_FILES, reason="no golden files in tests/golden/yolov3")
@pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_golden(path: Path):
    g = Golden(path)
    cfg = load(g.preset)
    failures, worst = [], 0.0
    for i, name in enumerate(g.names):
        try:
            worst = max(worst, check_case(g, i, cfg))
        except AssertionError as exc:
            failures.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else 'assertion'}")
    assert not failures, f"{len(failures)}/{len(g.names)} cases differ:\n" + "\n".join(failures[:10])
    assert worst <= TARGET_TOL


def test_golden_set_covers_both_inputs():
    assert {p.stem for p in GOLDEN_FILES} == {"yolov3", "yolov3_416"}
