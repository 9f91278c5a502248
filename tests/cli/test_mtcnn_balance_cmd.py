"""`samplegen mtcnn --balance` and `--compat` end to end (issue 15), on real data: the dlib photos
(real pixels, boxes and landmarks) and the WIDER subset (real boxes, synthesised images).

Every written sample is re-derived by the independent checks of `mtcnn_checks` (class from a
recomputed IoU under the run's conventions, roi, pixels, landmarks), and each mode's count rule
is checked against what the same inputs plan (a ``keep`` run of the same configuration holds
every planned sample once):

* ``oversample --base N``: exactly ``ratio * N`` per class; a class with at least that many
  samples is drawn without replacement (no copy), a shorter one holds all of its samples plus
  copies, each copy marked ``dup = 1, 2, ...``;
* ``keep``: every planned sample once, the manifest's weights give the ratio per batch;
* ``aittsmd``: pos / part ``N`` draws each, neg ``min(available, 3 N)``, every landmark once.

Bytes do not depend on the worker count in any mode (nor on kill + resume: one run of the
duplicating mode is killed and resumed).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samplegen.outputs import read_mtcnn
from tests.cli.helpers import (CachedRuns, changed_keys, iou_np, killed_mid_run, manifest, ok, run_cli, run_inproc,
                               tree_bytes)
from tests.cli.mtcnn_checks import Conventions, Sources, check_sample

NAMES = ("pos", "neg", "part", "landmark")
CODES = {"pos": 1, "neg": 0, "part": -1, "landmark": -2}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> CachedRuns:
    return CachedRuns(tmp_path_factory.mktemp("balance"))


@pytest.fixture(scope="module")
def data(request, dlib_args, wider_args):
    return {"dlib": dlib_args, "wider": wider_args}


def sources_for(name: str, request, invalid_as_faces: bool = False) -> Sources:
    dlib = request.getfixturevalue("dlib")
    if name == "dlib":
        faces = (dlib["wider"], "wider", dlib["root"])
    else:
        ann, images = request.getfixturevalue("wider_subset")
        faces = (ann, "wider", images)
    return Sources(faces, (dlib["points"], "facepoints", dlib["root"]), invalid_as_faces)


def sample_key(s: dict) -> tuple:
    """What identifies a planned sample: its image, class, box and augmentation."""
    return (s["source"], int(s["cls"]), tuple(np.asarray(s["crop"]).tolist()), float(s["angle"]), bool(s["mirror"]))


def multiset(samples, name: str) -> Counter:
    return Counter(sample_key(s) for s in samples if int(s["cls"]) == CODES[name])


def check_copies(samples, planned: list) -> None:
    """Each planned sample's selections are marked 0, 1, ..., k - 1. (Two planned rows can hold
    the very same crop when two random draws coincide: their marks are then two such runs, so
    per box: no more 0s than planned rows, and never more marks v than marks v - 1.)"""
    seen: dict = {}
    for s in samples:
        seen.setdefault(sample_key(s), []).append(int(s["dup"]))
    rows = Counter(map(sample_key, planned))
    for key, marks in seen.items():
        count = Counter(marks)
        assert 1 <= count[0] <= rows[key], f"{key}: {count[0]} first copies of {rows[key]} planned rows"
        assert all(count[v] <= count[v - 1] for v in count if v > 0), f"copies of {key} marked {marks}"


def packed_with_copies(out: Path) -> list[dict]:
    """The packed samples with their ``dup`` column (read off the labels files: `read_mtcnn`
    yields the fields every layout shares)."""
    dup = np.concatenate([np.load(out / s["files"][1]["name"])["dup"] for s in manifest(out)["shards"]])
    samples = list(read_mtcnn(out, images=False))
    assert len(samples) == dup.shape[0]
    return [s | {"dup": int(d)} for s, d in zip(samples, dup)]


def run_mode(runs: CachedRuns, data: dict, which: str, extra: list, workers: int = 1, layout: str = "packed"):
    name = f"{which}-{'-'.join(map(str, extra))}-{layout}-w{workers}"
    return runs.get(name, ["--size", 12, *data[which], "--layout", layout, "--shard-size", 4, *extra], workers)


@pytest.mark.parametrize("which", ["dlib", "wider"])
def test_keep_cuts_every_planned_sample_and_records_batch_weights(runs, data, which, request):
    out, summary = run_mode(runs, data, which, ["--balance", "keep"])
    dry = ok(run_inproc(["mtcnn", "--size", 12, *data[which], "--dry-run", "--workers", 1]))
    samples = list(read_mtcnn(out))
    assert {n: summary["counts"].get(n, 0) for n in NAMES} == dry["available"]
    plan = manifest(out)["plan"]
    assert plan["balance"]["mode"] == "keep" and plan["selected"] == plan["available"]
    assert sum(plan["duplicates"].values()) == 0
    weights, ratio = plan["balance"]["weights"], plan["balance"]["ratio"]
    # Each class's total weight is its share of the ratio: batches drawn by weight are in the ratio.
    shares = [weights[n] * plan["available"][n] for n in NAMES]
    np.testing.assert_allclose(shares, np.array(ratio) / sum(ratio), rtol=1e-12)
    src = sources_for(which, request)
    for s in samples:
        check_sample(s, 12, src)
    # keep plans exactly what exact plans: the exact selection is a subset of it
    exact, _ = run_mode(runs, data, which, [])
    every = Counter(map(sample_key, samples))
    assert not (Counter(map(sample_key, read_mtcnn(exact, images=False))) - every)


@pytest.mark.parametrize("which", ["dlib", "wider"])
def test_oversample_reaches_base_per_unit_without_replacement_first(runs, data, which, request):
    keep, _ = run_mode(runs, data, which, ["--balance", "keep"])
    planned = list(read_mtcnn(keep, images=False))
    available = Counter(s["label"] for s in planned)
    base = available["pos"] + 7                     # pos short by 7, landmarks (share 2) plentiful or short
    out, summary = run_mode(runs, data, which, ["--balance", "oversample", "--base", base])
    samples = list(read_mtcnn(out))
    ratio = dict(zip(NAMES, (1, 3, 1, 2)))
    assert {n: summary["counts"].get(n, 0) for n in NAMES} == {n: r * base for n, r in ratio.items()}
    plan = manifest(out)["plan"]
    for name in NAMES:
        chosen, pool = multiset(samples, name), multiset(planned, name)
        target = ratio[name] * base
        assert not (chosen.keys() - pool.keys()), f"{name}: a sample that was not planned"
        if target >= available[name]:
            assert not (pool - chosen), f"{name}: a short class holds every planned sample"
            assert plan["duplicates"][name] == target - available[name]
        else:
            assert not (chosen - pool) and plan["duplicates"][name] == 0, f"{name}: drawn with replacement"
    assert plan["duplicates"]["pos"] == 7
    marked = packed_with_copies(out)
    check_copies(marked, planned)
    assert sum(s["dup"] > 0 for s in marked) == sum(plan["duplicates"].values())
    src = sources_for(which, request)
    for s in samples:
        check_sample(s, 12, src)


def test_aittsmd_mode_draws_as_gen_imglist_pnet(runs, data, request):
    keep, _ = run_mode(runs, data, "wider", ["--balance", "keep"])
    planned = list(read_mtcnn(keep, images=False))
    available = Counter(s["label"] for s in planned)
    base = 60
    out, summary = run_mode(runs, data, "wider", ["--balance", "aittsmd", "--base", base])
    samples = list(read_mtcnn(out, images=False))
    want = {"pos": base, "part": base, "neg": min(available["neg"], 3 * base), "landmark": available["landmark"]}
    assert {n: summary["counts"].get(n, 0) for n in NAMES} == want
    assert multiset(samples, "landmark") == multiset(planned, "landmark")      # every landmark once
    for name in ("pos", "neg", "part"):                                      # draws with replacement
        assert not (multiset(samples, name).keys() - multiset(planned, name).keys())
    plan = manifest(out)["plan"]
    assert plan["duplicates"]["pos"] > 0 and plan["balance"] == {"mode": "aittsmd", "base": base, "ratio": [1, 3, 1, 2]}
    check_copies(packed_with_copies(out), planned)
    src = sources_for("wider", request)
    for s in read_mtcnn(out):
        check_sample(s, 12, src)


@pytest.mark.parametrize("which", ["dlib", "wider"])
@pytest.mark.parametrize("compat", ["aittsmd", "dface"])
def test_compat_presets_pass_the_sample_checks(runs, data, which, compat, request):
    extra = ["--compat", compat] + (["--base", 40] if compat == "aittsmd" else [])
    out, summary = run_mode(runs, data, which, extra)
    m = manifest(out)
    conv = Conventions.of(m)
    assert conv.plus_one and conv.match_sampled_face and conv.cut_plus_one and conv.invalid_as_faces
    assert m["config_sources"]["plus_one"] == f"preset:mtcnn/{compat}.yaml"
    assert m["config_sources"]["landmark.min_face"].startswith("file:")      # the user's layer wins
    samples = list(read_mtcnn(out))
    src = sources_for(which, request, invalid_as_faces=True)
    for s in samples:
        check_sample(s, 12, src, conv=conv)
    lm = [s for s in samples if s["cls"] == -2]
    assert lm, "no landmark sample: the checks would not see the landmark conventions"
    if compat == "aittsmd":
        # the GT sample (the face box, not square) is never augmented; shifted crops are
        face_boxes = [s for s in lm if (s["crop"][2] - s["crop"][0]) != (s["crop"][3] - s["crop"][1])]
        assert face_boxes and not any(s["angle"] or s["mirror"] for s in face_boxes)
        assert any(s["angle"] for s in lm) and any(s["mirror"] for s in lm)
    else:
        # DFace: shifted crops only, no augmentation, keep balance: every planned sample
        assert not any(s["angle"] or s["mirror"] for s in lm)
        assert all(s["crop"][2] - s["crop"][0] == s["crop"][3] - s["crop"][1] for s in lm)
        assert m["plan"]["selected"] == m["plan"]["available"]
    if which == "wider":
        # The subset's invalid boxes are faces here, not ignore regions: a negative may overlap
        # one a little (IoU < 0.3, checked above against the boxes with them), which samplegen's
        # own rule (IoF > 0 rejects) never allows.
        every, _ = run_mode(runs, data, which, ["--compat", compat, "--balance", "keep"])
        plain = sources_for(which, request)
        overlapping = [s for s in read_mtcnn(every, images=False) if s["cls"] == 0
                       and (iou_np(s["crop"], plain.record("faces", s["source"]).ignore) > 0).any()]
        assert overlapping


def test_compat_lists_are_the_pipelines_files(runs, data):
    out, summary = run_mode(runs, data, "dlib", ["--compat", "aittsmd", "--base", 40], layout="list")
    names = {p.name for p in out.iterdir()}
    assert {"pos_12.txt", "neg_12.txt", "part_12.txt", "landmark_12_aug.txt"} <= names
    line = (out / "pos_12.txt").read_text().splitlines()[0]
    assert line.split()[0].endswith(".jpg") and Path(line.split()[0]).read_bytes()[:2] == b"\xff\xd8"
    assert manifest(out)["layout"] == "list:jpg:aittsmd"


@pytest.mark.parametrize("extra", [["--balance", "keep"], ["--balance", "oversample", "--base", 300],
                                   ["--compat", "aittsmd", "--base", 50], ["--compat", "dface"]])
def test_same_bytes_for_one_and_two_workers(runs, data, extra):
    out1, s1 = run_mode(runs, data, "wider", extra, workers=1, layout="wds")
    out2, s2 = run_mode(runs, data, "wider", extra, workers=2, layout="wds")
    a, b = tree_bytes(out1), tree_bytes(out2)
    ma, mb = json.loads(a.pop("manifest.json")), json.loads(b.pop("manifest.json"))
    assert sorted(a) == sorted(b) and [n for n in a if a[n] != b[n]] == []
    assert changed_keys(ma, mb) == []


def test_wds_samples_carry_their_copy_index(runs, data):
    out, _ = run_mode(runs, data, "wider", ["--balance", "oversample", "--base", 300], layout="wds")
    samples = list(read_mtcnn(out, images=False))
    assert all("dup" in s for s in samples) and any(s["dup"] for s in samples)
    keep, _ = run_mode(runs, data, "wider", ["--balance", "keep"])
    check_copies(samples, list(read_mtcnn(keep, images=False)))
    exact, _ = run_mode(runs, data, "wider", [], layout="wds")
    assert not any("dup" in s for s in read_mtcnn(exact, images=False))   # exact: no new field


@pytest.mark.parametrize("mode", [["--balance", "oversample", "--base", 300], ["--balance", "keep"],
                                  ["--balance", "aittsmd", "--base", 300]], ids=["oversample", "keep", "aittsmd"])
def test_kill_and_resume_in_every_mode_gives_the_uninterrupted_bytes(data, tmp_path, mode):
    args = ["mtcnn", "--size", 12, *data["wider"], "--layout", "wds", *mode, "--shard-size", 2]
    reference = tmp_path / "reference"
    ok(run_inproc([*args, "--workers", 1, "--out", reference]))
    planned = manifest(reference)["planned_shards"]
    # committed shard files, not the manifest: the engine may list shards in batches
    caught = killed_mid_run(args, tmp_path, planned, lambda out: len(list(out.glob("pnet-*.tar"))))
    if caught is None:
        pytest.skip("the run finished before it could be killed mid-way")
    ok(run_cli([*args, "--workers", 2, "--out", caught, "--resume"]))
    a, b = tree_bytes(reference), tree_bytes(caught)
    ma, mb = json.loads(a.pop("manifest.json")), json.loads(b.pop("manifest.json"))
    assert sorted(a) == sorted(b) and [n for n in a if a[n] != b[n]] == []
    assert changed_keys(ma, mb) == []


def test_explicit_exact_is_the_default_selection(runs, data):
    default, _ = run_mode(runs, data, "dlib", [])
    explicit, _ = run_mode(runs, data, "dlib", ["--balance", "exact"])
    a, b = tree_bytes(default), tree_bytes(explicit)
    a.pop("manifest.json"), b.pop("manifest.json")
    assert a == b
    assert "balance" not in manifest(default)["plan"]


@pytest.mark.parametrize("extra, message", [
    (["--balance", "keep", "--base", 5], "'base'"),
    (["--balance", "aittsmd"], "'base' must be given"),
    (["--balance", "keep", "--allow-duplicates"], "allow_duplicates"),
    (["--compat", "nope"], "--compat"),
])
def test_bad_balance_options_exit_2(dlib, extra, message, tmp_path):
    res = run_cli(["mtcnn", "--annotations", dlib["wider"], "--images", dlib["root"], *extra, "--out", tmp_path / "o"])
    assert res.code == 2 and res.stdout == "" and message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_ratio_batch_sampler_reads_a_keep_output(runs, data):
    pytest.importorskip("torch")
    from samplegen.torch import MtcnnPackedDataset, RatioBatchSampler

    out, _ = run_mode(runs, data, "wider", ["--balance", "keep"])
    sampler = RatioBatchSampler.from_output(out, batch_size=14, seed=3)
    labels = MtcnnPackedDataset(out).class_labels()
    batches = list(sampler)
    assert batches
    for batch in batches:
        assert Counter(labels[batch].tolist()) == {1: 2, 0: 6, -1: 2, -2: 4}    # 1:3:1:2 of 14
    assert len({i for b in batches for i in b}) == sum(len(b) for b in batches)  # no repeat in an epoch
