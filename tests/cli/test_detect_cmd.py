"""``samplegen detect``: the MTCNN cascade over real photos, sharded and resumable, its JSON lines
equal to the detection core's boxes, read back by ``--detections`` as a folder; bad models refused."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets.detections import read_detections
from samplegen.datasets.paths import image_file
from samplegen.datasets.wider import read_wider
from samplegen.detect import NetSpec, detect_faces, load_detect_config, load_nets
from samplegen.engine.images import load_image
from tests.cli.helpers import changed_keys, killed_mid_run, manifest, ok, run_cli, run_inproc, tree_bytes


@pytest.fixture(scope="module")
def models(shared_data: Path) -> dict[str, Path]:
    root = shared_data / "models"
    return {"pnet": root / "nhwc-keras/pnet.onnx", "rnet": root / "nhwc-keras/rnet.onnx",
            "pnet_nchw": root / "nchw/pnet.onnx", "onet": root / "nhwc-keras/onet.onnx"}


@pytest.fixture(scope="module")
def photos(dlib) -> list:
    """The dlib photos (train + test WIDER files) with a faceless image added."""
    return ["--annotations", dlib["wider"], "--format", "wider", "--images", dlib["root"]]


def test_no_options_runs_the_embedded_cascade(tmp_path):
    summary = ok(run_cli(["detect", "--no-progress"], cwd=tmp_path))
    out = tmp_path / "samplegen-out" / "detect"
    dets = read_detections(out)
    assert summary["stages"] == ["pnet", "rnet"] and summary["images"] == len(dets) == 2
    assert summary["counts"]["boxes"] == sum(len(b) for b in dets.values()) > 0
    m = manifest(out)
    assert m["command"] == "detect" and {i["role"] for i in m["inputs"]} == {"annotations", "pnet", "rnet"}


def test_lines_equal_the_detection_core_and_do_not_depend_on_workers(tmp_path, photos, models, dlib):
    base = ["detect", *photos, "--pnet", models["pnet"], "--rnet", models["rnet"], "--shard-size", 2,
            "--no-progress"]
    one = ok(run_inproc([*base, "--workers", 1, "--out", tmp_path / "one"]))
    ok(run_cli([*base, "--workers", 2, "--out", tmp_path / "two"]))
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")
    cfg = load_detect_config("ipazc")
    nets = load_nets(NetSpec(str(models["pnet"]), str(models["rnet"])), cfg)
    dets = read_detections(tmp_path / "one")
    records = read_wider(dlib["wider"], dlib["root"]).records
    assert one["images"] == len(records) == len(dets)
    for record in records:
        pixels, _ = load_image(image_file(dlib["root"], record))
        want = detect_faces(pixels, nets, cfg).rnet_boxes
        np.testing.assert_array_equal(dets[record.key], want)     # 9 digits restore float32 exactly
    assert sum(len(b) > 0 for b in dets.values()) == one["counts"]["images_with_boxes"] > 0


def test_pnet_only_and_nchw_weights(tmp_path, photos, models):
    nhwc = ok(run_inproc(["detect", *photos, "--pnet", models["pnet"], "--out", tmp_path / "a", "--no-progress"]))
    nchw = ok(run_inproc(["detect", *photos, "--pnet", models["pnet_nchw"], "--out", tmp_path / "b",
                          "--no-progress"]))
    assert nhwc["stages"] == ["pnet"] and nhwc["counts"]["boxes"] == nchw["counts"]["boxes"] > 0
    a, b = read_detections(tmp_path / "a"), read_detections(tmp_path / "b")
    for key in a:   # same weights in both layouts: the same boxes (order may differ on near-ties)
        np.testing.assert_allclose(np.sort(a[key][:, :4], axis=0), np.sort(b[key][:, :4], axis=0), atol=1e-3)


def test_a_faceless_image_gets_an_empty_line(tmp_path, models):
    import cv2

    cv2.imwrite(str(tmp_path / "blank.png"), np.full((200, 300, 3), 128, np.uint8))
    (tmp_path / "ann.txt").write_text("blank.png\n1\n10 10 50 50 0 0 0 0 0 0\n")
    ok(run_inproc(["detect", "--annotations", tmp_path / "ann.txt", "--images", tmp_path, "--pnet", models["pnet"],
                   "--rnet", models["rnet"], "--out", tmp_path / "o", "--no-progress"]))
    lines = (tmp_path / "o" / "dets-000000.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"image": "blank.png", "boxes": []}]


@pytest.mark.parametrize("case", ["not_onnx", "onet_as_rnet", "rnet_as_pnet", "missing"])
def test_bad_models_are_one_line_exit_2_naming_the_file(tmp_path, photos, models, case):
    bad = {"not_onnx": tmp_path / "x.onnx", "onet_as_rnet": models["onet"], "rnet_as_pnet": models["rnet"],
           "missing": tmp_path / "none.onnx"}[case]
    if case == "not_onnx":
        bad.write_text("not a model")
    args = ["--pnet", bad] if case in ("not_onnx", "rnet_as_pnet", "missing") else \
        ["--pnet", models["pnet"], "--rnet", bad]
    res = run_cli(["detect", *photos, *args, "--out", tmp_path / "o"])
    assert res.code == 2 and res.stdout == "" and res.stderr.count("\n") == 1, res.stderr
    assert str(bad) in res.stderr and not (tmp_path / "o").exists()


def _listed_shards(out: Path) -> int:
    try:
        return len(manifest(out)["shards"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def test_kill_and_resume_gives_the_bytes_of_an_uninterrupted_run(tmp_path, photos, models):
    args = ["detect", *photos, "--pnet", models["pnet"], "--rnet", models["rnet"], "--shard-size", 1,
            "--no-progress"]
    reference = tmp_path / "reference"
    ok(run_inproc([*args, "--workers", 1, "--out", reference]))
    planned = manifest(reference)["planned_shards"]
    caught = killed_mid_run(args, tmp_path, planned, _listed_shards)
    if caught is None:
        pytest.skip("the run finished before it could be killed mid-way")
    resumed = ok(run_cli([*args, "--workers", 2, "--out", caught, "--resume"]))
    assert resumed["resumed_shards"] >= 1
    a, b = tree_bytes(reference), tree_bytes(caught)
    ma, mb = json.loads(a.pop("manifest.json")), json.loads(b.pop("manifest.json"))
    assert sorted(a) == sorted(b) and [n for n in a if a[n] != b[n]] == []
    assert changed_keys(ma, mb) == []


def test_detections_folder_is_refused_while_unfinished(tmp_path, photos, models):
    out = tmp_path / "o"
    ok(run_inproc(["detect", *photos, "--pnet", models["pnet"], "--out", out, "--no-progress"]))
    data = json.loads((out / "manifest.json").read_text())
    data["complete"] = False
    (out / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(Exception, match="unfinished samplegen detect run"):
        read_detections(out)
