"""CenterNet (`samplegen.anchors.centernet`): hand-checked edge cases, the sparse heatmap's exact
rebuild, and the recipe against golden vectors from mmdetection 3.3.0's own CenterNetHead
(scripts/make_yolo_centernet_goldens.py; the npz files carry their inputs)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from samplegen.anchors.methods import anchor_config, priors_for
from samplegen.anchors.recipes import centernet as cn
from samplegen.anchors.labels import NEGATIVE
from samplegen.errors import ConfigError
from tests.anchors.test_yolov3 import Golden

GOLDEN_FILES = sorted((Path(__file__).resolve().parent.parent / "golden" / "centernet").glob("*.npz"))
TARGET_TOL = 1e-5
HEAT_TOL = 1.2e-7      # one float32 ulp below 1: mmdet's exp is torch's (not correctly rounded)


def sha(arr: np.ndarray, dtype: str) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=dtype).tobytes()).hexdigest()


def load(overrides: dict | None = None) -> cn.CenterNetConfig:
    return anchor_config("centernet", overrides, environ={})


@pytest.fixture(scope="module")
def cfg() -> cn.CenterNetConfig:
    return load()


def test_geometry_and_grid(cfg):
    g = cn.geometry(cfg, 640, 480)
    assert g.img_shape == (384, 512) and g.pad_shape == (512, 512) and g.featmap_sizes == ((128, 128),)
    points, counts = priors_for(cfg, 480, 640)
    assert counts.tolist() == [16384]
    np.testing.assert_array_equal(points[[0, 1, 128]], [[0, 0], [4, 0], [0, 4]])


def test_gaussian_radius_known_value():
    # h = w = 10, o = 0.3: r1 = (20 - sqrt(400 - 4 * 70 * 0.7 / 1.3 ... )) / 2 etc.; r2 is the smallest
    h = w = 10.0
    r2 = (2 * (h + w) - np.sqrt((2 * (h + w)) ** 2 - 16 * 0.7 * w * h)) / 8
    assert abs(float(cn.gaussian_radius(np.float32(h), np.float32(w), 0.3)) - r2) < 1e-5
    assert cn.gaussian_radius(np.float32(0), np.float32(0), 0.3) == 0


def test_gaussian_kernel_centre_one_and_symmetric():
    k = cn.gaussian_kernel(3)
    assert k.shape == (7, 7) and k[3, 3] == 1 and (k == k.T).all() and (k == k[::-1]).all()
    assert cn.gaussian_kernel(0).tolist() == [[1.0]]


def test_draw_gaussian_cut_at_border_and_max():
    heat = np.zeros((4, 4), np.float32)
    cn.draw_gaussian(heat, 0, 0, 2)
    np.testing.assert_array_equal(heat[:3, :3], cn.gaussian_kernel(2)[2:, 2:])
    before = heat.copy()
    cn.draw_gaussian(heat, 3, 3, 0)
    assert heat[3, 3] == 1 and (heat[:3] == before[:3]).all()


def test_rebuild_matches_label_and_avg_factor(cfg):
    boxes = np.array([[10, 10, 200, 300], [300, 200, 330, 260], [300, 200, 330, 260], [0, 0, 512, 512]], np.float32)
    out = cn.label(boxes, np.array([1, 2, 2, 1]), None, 512, 512, cfg)
    heat = cn.centernet_heatmap(out["heatmap_peaks"], out["heatmap_radii"], 80, (128, 128))
    # the two identical boxes share one peak: three cells at 1 in all
    assert out["avg_factor"] == (heat == 1).sum() == 3
    assert heat[1].max() == 1 and heat[0].max() == 0
    # the later of the two identical GTs owns the cell
    cell = out["heatmap_peaks"][2, 1] * 128 + out["heatmap_peaks"][2, 2]
    assert out["assigned_gt"][cell] == 3 and out["labels"][cell] == 2
    only = cn.centernet_heatmap(out["heatmap_peaks"], out["heatmap_radii"], 80, (128, 128), classes=[2])
    np.testing.assert_array_equal(only[0], heat[2])


def test_empty_gt(cfg):
    out = cn.label(np.zeros((0, 4), np.float32), np.zeros(0), None, 640, 480, cfg)
    assert (out["assigned_gt"] == NEGATIVE).all() and out["avg_factor"] == 1
    assert out["heatmap_peaks"].shape == (0, 3) and out["pos_targets"].shape == (0, 4)


def test_class_out_of_range_raises(cfg):
    with pytest.raises(ValueError, match="gt_labels"):
        cn.label(np.array([[0, 0, 10, 10]], np.float32), np.array([80]), None, 64, 64, cfg)


def test_validate_names_the_key():
    with pytest.raises(ConfigError, match="input.pad_size"):
        load({"input": {"pad_size": [500, 512]}})
    with pytest.raises(ConfigError, match="heatmap.min_overlap"):
        load({"heatmap": {"min_overlap": 1.5}})


def check_case(g: Golden, i: int, cfg: cn.CenterNetConfig) -> tuple[float, bool]:
    out = cn.label(*g.inputs(i), cfg)
    for key in ("img_shape", "pad_shape", "scale_factor", "gt_boxes"):
        np.testing.assert_array_equal(out[key], g.get(key, i), err_msg=key)
    assert out["avg_factor"] == g.scalar("avg_factor", i), "avg_factor differs"
    np.testing.assert_array_equal(out["pos_inds"], g.get("pos_inds", i))
    np.testing.assert_allclose(out["pos_targets"], g.get("pos_targets", i).reshape(-1, 4), rtol=0, atol=TARGET_TOL)
    feat = tuple(int(v) for v in g.get("feat_shape", i))
    heat = cn.centernet_heatmap(out["heatmap_peaks"], out["heatmap_radii"], cfg.head.num_classes, feat).reshape(-1)
    nz = np.flatnonzero(heat)
    assert len(nz) == g.scalar("heat_nz_count", i) and sha(nz, "<i8") == g.scalar("heat_nz_sha", i), \
        "heatmap support differs"
    assert abs(heat.astype(np.float64).sum() - g.scalar("heat_sum", i)) <= HEAT_TOL * max(1, len(nz))
    worst = 0.0
    if g.has("heat_nz_idx", i):
        np.testing.assert_array_equal(nz, g.get("heat_nz_idx", i))
        worst = float(np.abs(heat[nz].astype(np.float64) - g.get("heat_nz_val", i)).max()) if len(nz) else 0.0
        assert worst <= HEAT_TOL
    return worst, sha(heat, "<f4") == g.scalar("heat_sha", i)


@pytest.mark.skipif(not GOLDEN_FILES, reason="no golden files in tests/golden/centernet")
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
