"""The library API gives what the CLI gives: same output bytes (manifest included), same summary."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import samplegen
from samplegen.anchors.methods import METHODS
from samplegen.errors import ConfigError


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args) -> dict:
    proc = subprocess.run([sys.executable, "-m", "samplegen", *map(str, args)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def same_summary(api: dict, cli_out: dict) -> None:
    assert {k: v for k, v in api.items() if k != "out"} == {k: v for k, v in cli_out.items() if k != "out"}


@pytest.mark.parametrize("size", [12, 24, 48])
def test_run_mtcnn_equals_the_cli_on_the_embedded_sample(tmp_path, size):
    summary = samplegen.run_mtcnn(size, out=tmp_path / "api", workers=1, shard_size=1)
    printed = cli("mtcnn", "--size", size, "--out", tmp_path / "cli", "--workers", 1, "--shard-size", 1, "--no-progress")
    assert tree(tmp_path / "api") == tree(tmp_path / "cli")
    same_summary(summary.as_json(), printed)
    assert summary.samples == printed["samples"] > 0 and summary.out == tmp_path / "api"


def test_run_mtcnn_on_real_photos_with_overrides(tmp_path, shared_data):
    dlib = shared_data / "dlib_faces"
    inputs = dict(annotations=dlib / "derived/wider_face_train_bbx_gt.txt", images=dlib,
                  landmarks=dlib / "derived/trainImageList.txt", landmark_images=dlib)
    summary = samplegen.run_mtcnn(24, **inputs, layout="wds", out=tmp_path / "api", workers=2,
                                  overrides={"landmark.min_face": 20}, seed=5)
    printed = cli("mtcnn", "--size", 24, "--annotations", inputs["annotations"], "--images", dlib,
                  "--landmarks", inputs["landmarks"], "--landmark-images", dlib, "--layout", "wds",
                  "--set", "landmark.min_face=20", "--seed", 5, "--out", tmp_path / "cli", "--workers", 1, "--no-progress")
    assert tree(tmp_path / "api") == tree(tmp_path / "cli")
    same_summary(summary.as_json(), printed)
    assert summary.counts["landmark"] > 0


@pytest.mark.parametrize("method", sorted(METHODS))
def test_run_anchors_equals_the_cli_for_every_method(tmp_path, method):
    summary = samplegen.run_anchors(method, out=tmp_path / "api", workers=1)
    printed = cli("anchors", "--method", method, "--out", tmp_path / "cli", "--workers", 1, "--no-progress")
    assert tree(tmp_path / "api") == tree(tmp_path / "cli")
    same_summary(summary.as_json(), printed)


def test_label_image_and_priors_for_one_image():
    cfg = samplegen.anchor_config("fpn", {"assigner.pos_iou_thr": 0.6})
    assert cfg.assigner.pos_iou_thr == 0.6
    boxes = np.array([[10, 20, 200, 220]], np.float32)
    out = samplegen.label_image(boxes, np.array([3]), np.zeros((0, 4), np.float32), 640, 480, cfg,
                                np.random.default_rng(0))
    priors, per_level = samplegen.priors_for(cfg, 480, 640)
    assert out["assigned_gt"].shape == (priors.shape[0],) and out["priors_per_level"].tolist() == per_level.tolist()
    assert (out["labels"][out["pos_inds"]] == 3).all() and len(out["pos_inds"]) > 0


def test_fit_and_inspect_and_stats_return_what_the_cli_prints(tmp_path):
    assert samplegen.inspect_annotations() == cli("inspect")
    fitted = samplegen.fit_anchors("faster_rcnn").as_json()
    assert fitted == cli("fit-anchors", "--method", "faster_rcnn")
    samplegen.run_mtcnn(12, out=tmp_path / "m", workers=1)
    assert samplegen.output_stats(tmp_path / "m") == cli("stats", tmp_path / "m")


def test_errors_are_exceptions_not_exits(tmp_path):
    with pytest.raises(ConfigError, match="is now 'assigner.pos_iou_thr'"):
        samplegen.run_anchors("fpn", overrides={"pos_iou_thr": 0.5}, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
