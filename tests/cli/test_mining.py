"""``samplegen mtcnn --size 24|48 --pnet [--rnet]``: hard examples mined in the planning workers
give the bytes of ``samplegen detect`` followed by ``--detections``; misuse is refused."""
from __future__ import annotations

import re
import shutil
import time

import pytest

from samplegen.pipelines.mined import MINED_DIR
from tests.cli.helpers import killed_mid_run, kill_group, manifest, ok, popen_cli, run_cli, run_inproc, tree_bytes


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


WIDER_BASE = ["--ratio", "1:3:1:0", "--shard-size", 4]


@pytest.fixture(scope="module")
def wider_mined(tmp_path_factory, wider_args, nets):
    """(arguments, folder) of an uninterrupted mining run on the WIDER subset with 2 workers."""
    # WIDER-shaped: real WIDER boxes, images synthesised to their sizes (P-Net finds what it finds)
    base = ["mtcnn", "--size", 24, *wider_args, "--pnet", nets["pnet"], *WIDER_BASE]
    out = tmp_path_factory.mktemp("mined") / "two"
    assert ok(run_cli([*base, "--workers", 2, "--out", out]))["samples"] > 0
    return base, out


def test_mining_on_the_wider_subset_does_not_depend_on_workers(tmp_path, wider_mined):
    base, reference = wider_mined
    ok(run_cli([*base, "--workers", 1, "--out", tmp_path / "one"]))
    assert tree_bytes(tmp_path / "one") == tree_bytes(reference)
    assert not (reference / MINED_DIR).exists()      # a complete run leaves nothing of its mining


def test_a_run_killed_while_mining_resumes_without_detecting_again(tmp_path, wider_mined):
    base, reference = wider_mined
    out = tmp_path / "killed"
    proc = popen_cli([*base, "--workers", 2, "--out", out])
    deadline = time.monotonic() + 60
    try:   # killed as soon as the first chunk of 8 images (of 30) has been saved
        while proc.poll() is None and time.monotonic() < deadline and not list(out.glob(f"{MINED_DIR}/*.npz")):
            time.sleep(0.002)
    finally:
        kill_group(proc)
    saved = len(list(out.glob(f"{MINED_DIR}/*.npz")))
    assert 1 <= saved < 4 and not (out / "manifest.json").exists()
    res = run_cli([*base, "--workers", 2, "--out", out, "--resume"])
    assert res.code == 0, res.stderr
    reused = int(re.search(r"reused the boxes of (\d+) images", res.stderr).group(1))
    assert reused >= 8 * saved and reused % 8 == 0
    assert tree_bytes(out) == tree_bytes(reference)


def test_a_killed_mining_run_resumes_to_the_uninterrupted_bytes(tmp_path, dlib_args, nets):
    args = ["mtcnn", "--size", 24, *dlib_args, "--pnet", nets["pnet"], "--shard-size", 1]
    reference = tmp_path / "reference"
    ok(run_inproc([*args, "--workers", 1, "--out", reference]))
    planned = manifest(reference)["planned_shards"]
    out = killed_mid_run(args, tmp_path, planned, lambda out: len(list(out.glob("rnet-*"))))
    if out is None:
        pytest.skip("the run finished before it could be killed mid-way")
    res = run_cli([*args, "--workers", 2, "--out", out, "--resume"])   # the missing shards, nothing detected
    assert res.code == 0 and "reused the boxes of 4 images" in res.stderr, res.stderr
    assert tree_bytes(out) == tree_bytes(reference)


def test_saved_boxes_serve_the_next_run_and_a_damaged_file_is_detected_again(tmp_path, dlib_args, nets):
    args = ["mtcnn", "--size", 24, *dlib_args, "--pnet", nets["pnet"], "--shard-size", 2]
    out = tmp_path / "out"
    ok(run_inproc([*args, "--seed", 1, "--out", out]))
    refused = run_cli([*args, "--seed", 2, "--out", out])   # mined, then refused: another configuration
    assert refused.code == 2 and "another configuration" in refused.stderr
    (saved,) = out.glob(f"{MINED_DIR}/*.npz")                 # the 4 face images are one chunk
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    data = (damaged / MINED_DIR / saved.name).read_bytes()
    (damaged / MINED_DIR / saved.name).write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    fresh = tmp_path / "fresh"
    ok(run_inproc([*args, "--seed", 2, "--out", fresh]))
    again = run_cli([*args, "--seed", 2, "--out", out, "--overwrite"])
    assert again.code == 0 and "reused the boxes of 4 images" in again.stderr, again.stderr
    redone = run_cli([*args, "--seed", 2, "--out", damaged, "--overwrite"])
    assert redone.code == 0 and "reused" not in redone.stderr, redone.stderr
    assert "1 saved mining files" in redone.stderr and "detected again" in redone.stderr
    assert tree_bytes(out) == tree_bytes(fresh) == tree_bytes(damaged)


def test_a_folder_the_run_refuses_gets_nothing_of_the_mining(tmp_path, dlib_args, nets):
    out = tmp_path / "theirs"
    out.mkdir()
    (out / "manifest.json").write_text('{"hello": 1}')
    res = run_cli(["mtcnn", "--size", 24, *dlib_args, "--pnet", nets["pnet"], "--out", out])
    assert res.code == 2 and "leaves this folder alone" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
