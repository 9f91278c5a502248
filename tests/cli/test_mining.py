"""``samplegen mtcnn --size 24|48 --pnet [--rnet]``: hard examples mined in the planning workers
give the bytes of ``samplegen detect`` followed by ``--detections``; misuse is refused."""
from __future__ import annotations

import pytest

from tests.cli.helpers import killed_mid_run, manifest, ok, run_cli, run_inproc, tree_bytes


@pytest.fixture(scope="module")
def nets(shared_data):
    root = shared_data / "models" / "nhwc-keras"
    return {"pnet": root / "pnet.onnx", "rnet": root / "rnet.onnx"}


def shards(folder):
    return {name: data for name, data in tree_bytes(folder).items() if name != "manifest.json"}


@pytest.mark.parametrize("size", [24, 48])
def test_mining_equals_detect_then_detections(tmp_path, dlib_args, nets, size):
    rnet = ["--rnet", nets["rnet"]] if size == 48 else []
    faces = dlib_args[:6]                                 # --annotations, --format, --images
    ok(run_inproc(["detect", *faces, "--pnet", nets["pnet"], *rnet, "--out", tmp_path / "dets", "--no-progress"]))
    base = ["mtcnn", "--size", size, *dlib_args, "--shard-size", 3, "--layout", "wds"]
    mined = ok(run_inproc([*base, "--pnet", nets["pnet"], *rnet, "--out", tmp_path / "mined", "--workers", 1]))
    given = ok(run_inproc([*base, "--detections", tmp_path / "dets", "--out", tmp_path / "given", "--workers", 1]))
    assert shards(tmp_path / "mined") == shards(tmp_path / "given")
    assert mined["counts"] == given["counts"] and mined["counts"]["pos"] > 0
    m = manifest(tmp_path / "mined")
    assert m["config"]["detect"]["stages"] == (["pnet", "rnet"] if size == 48 else ["pnet"])
    assert {i["role"] for i in m["inputs"]} >= {"annotations", "pnet"}


def test_mining_does_not_depend_on_workers(tmp_path, dlib_args, nets):
    base = ["mtcnn", "--size", 24, *dlib_args, "--pnet", nets["pnet"], "--shard-size", 2]
    ok(run_inproc([*base, "--workers", 1, "--out", tmp_path / "one"]))
    ok(run_cli([*base, "--workers", 2, "--out", tmp_path / "two"]))
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_detect_preset_keys_are_set_under_detect(tmp_path, dlib_args, nets):
    base = ["mtcnn", "--size", 24, *dlib_args, "--pnet", nets["pnet"], "--ratio", "1:3:1:0", "--dry-run"]
    strict = ok(run_inproc([*base, "--set", "detect.pnet.threshold=0.95"]))
    loose = ok(run_inproc([*base, "--set", "detect.pnet.threshold=0.3"]))
    assert strict["available"]["neg"] < loose["available"]["neg"]


def test_embedded_cascade_with_no_options(tmp_path):
    summary = ok(run_cli(["mtcnn", "--size", 48, "--no-progress"], cwd=tmp_path))
    m = manifest(tmp_path / "samplegen-out" / "onet")
    assert m["config"]["detect"]["stages"] == ["pnet", "rnet"] and summary["samples"] > 0


@pytest.mark.parametrize("args, message", [
    (["--size", 12, "--pnet", "P"], "24 or 48"),
    (["--size", 48, "--pnet", "P"], "give --rnet"),
    (["--size", 24, "--pnet", "P", "--rnet", "R"], "drop --rnet"),
    (["--size", 24, "--pnet", "P", "--detections", "D"], "not both"),
    (["--size", 24, "--rnet", "R"], "give --pnet"),
])
def test_misuse_is_one_line_exit_2(tmp_path, dlib_args, nets, args, message):
    paths = {"P": nets["pnet"], "R": nets["rnet"], "D": tmp_path}
    res = run_cli(["mtcnn", *dlib_args, *[paths.get(a, a) if isinstance(a, str) else a for a in args],
                   "--out", tmp_path / "o"])
    assert res.code == 2 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    assert not (tmp_path / "o").exists()


def test_mining_on_the_wider_subset_does_not_depend_on_workers(tmp_path, wider_args, nets):
    # WIDER-shaped: real WIDER boxes, images synthesised to their sizes (P-Net finds what it finds)
    base = ["mtcnn", "--size", 24, *wider_args, "--pnet", nets["pnet"], "--ratio", "1:3:1:0", "--shard-size", 4]
    one = ok(run_cli([*base, "--workers", 1, "--out", tmp_path / "one"]))
    two = ok(run_cli([*base, "--workers", 2, "--out", tmp_path / "two"]))
    assert one["samples"] == two["samples"] > 0
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_a_killed_mining_run_resumes_to_the_uninterrupted_bytes(tmp_path, dlib_args, nets):
    args = ["mtcnn", "--size", 24, *dlib_args, "--pnet", nets["pnet"], "--shard-size", 1]
    reference = tmp_path / "reference"
    ok(run_inproc([*args, "--workers", 1, "--out", reference]))
    planned = manifest(reference)["planned_shards"]
    out = killed_mid_run(args, tmp_path, planned, lambda out: len(list(out.glob("rnet-*"))))
    if out is None:
        pytest.skip("the run finished before it could be killed mid-way")
    ok(run_cli([*args, "--workers", 2, "--out", out, "--resume"]))   # mining is redone, then the missing shards
    assert tree_bytes(out) == tree_bytes(reference)
