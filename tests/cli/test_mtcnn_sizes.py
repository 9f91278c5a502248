"""``samplegen mtcnn --size 12,24,48`` (issue 15): one plan, every crop cut at each size from one
decode, each size's folder byte-identical (manifest included) to the single-size run of its
configuration: ``--size 12``, and ``--size 24|48 --set neg_min_size=12`` (the P-Net-style
sampling shares the smallest size's negative sizes). On the dlib photos and the WIDER subset."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from samplegen.outputs import read_mtcnn
from tests.cli.helpers import manifest, ok, run_cli, run_inproc, tree_bytes
from tests.cli.mtcnn_checks import Sources, check_sample

STAGES = {12: "pnet", 24: "rnet", 48: "onet"}


def single(args: list, size: int, out, workers: int = 1) -> dict:
    extra = [] if size == 12 else ["--set", "neg_min_size=12"]
    return ok(run_inproc(["mtcnn", "--size", size, *args, *extra, "--out", out, "--workers", workers]))


@pytest.mark.parametrize("which, layout", [("dlib", "packed"), ("wider", "wds"), ("dlib", "list")])
def test_each_size_equals_its_single_size_run(which, layout, request, tmp_path):
    args = [*request.getfixturevalue(f"{which}_args"), "--layout", layout, "--shard-size", 4]
    multi = tmp_path / "multi"
    summary = ok(run_inproc(["mtcnn", "--size", "12,24,48", *args, "--out", multi, "--workers", 2]))
    assert summary["sizes"] == [12, 24, 48] and sorted(summary["runs"]) == ["onet", "pnet", "rnet"]
    assert sorted(p.name for p in multi.iterdir()) == ["onet", "pnet", "rnet"], "staging left behind"
    counts = {stage: run["counts"] for stage, run in summary["runs"].items()}
    assert counts["pnet"] == counts["rnet"] == counts["onet"]
    for size, stage in STAGES.items():
        alone = tmp_path / f"alone{size}"
        single(args, size, alone)
        assert tree_bytes(multi / stage) == tree_bytes(alone), f"{stage} differs from its single-size run"
    src_dlib = request.getfixturevalue("dlib")
    if which == "dlib" and layout == "packed":
        sources = Sources((src_dlib["wider"], "wider", src_dlib["root"]), (src_dlib["points"], "facepoints", src_dlib["root"]))
        small, large = list(read_mtcnn(multi / "pnet")), list(read_mtcnn(multi / "onet"))
        assert len(small) == len(large)
        for a, b in zip(small, large):       # the very same crops, cut at two sizes
            np.testing.assert_array_equal(a["crop"], b["crop"])
            check_sample(b, 48, sources)
        assert manifest(multi / "rnet")["config_sources"]["neg_min_size"] == "command line"
        assert manifest(multi / "pnet")["config_sources"]["neg_min_size"].startswith("preset:")


def test_a_size_missing_on_resume_is_cut_again(dlib_args, tmp_path):
    args = ["mtcnn", "--size", "12,48", *dlib_args, "--shard-size", 3, "--out", tmp_path / "m", "--workers", 1]
    ok(run_inproc(args))
    before = tree_bytes(tmp_path / "m" / "onet")
    shutil.rmtree(tmp_path / "m" / "onet")
    again = ok(run_inproc([*args, "--resume"]))
    assert again["runs"]["pnet"]["resumed_shards"] == again["runs"]["pnet"]["shards"]
    assert tree_bytes(tmp_path / "m" / "onet") == before


@pytest.mark.parametrize("extra, message", [
    (["--size", "12,24", "--detections", "dets.jsonl"], "belong to one stage"),
    (["--size", "12,36"], "size"),
    (["--size", "12,12"], "size"),
    (["--size", "12,24", "--pnet", "p.onnx"], "belong to one stage"),
])
def test_sizes_that_cannot_share_a_plan_exit_2(dlib, extra, message, tmp_path):
    res = run_cli(["mtcnn", "--annotations", dlib["wider"], "--images", dlib["root"], *extra, "--out", tmp_path / "o"],
                  cwd=tmp_path)
    assert res.code == 2 and res.stdout == "" and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_configurations_differing_beyond_size_are_refused():
    from samplegen.errors import ConfigError
    from samplegen.mtcnn.config import load_mtcnn_config
    from samplegen.pipelines.mtcnn_sizes import check_shared_plan

    small = load_mtcnn_config(12)[0]
    check_shared_plan([small, load_mtcnn_config(24, {"neg_min_size": 12})[0]])
    with pytest.raises(ConfigError, match="neg_min_size"):
        check_shared_plan([small, load_mtcnn_config(24)[0]])
    with pytest.raises(ConfigError, match="jitter"):
        check_shared_plan([small, load_mtcnn_config(48, {"neg_min_size": 12, "jitter": 0.1})[0]])
