"""`samplegen mtcnn` end to end (issue 3 "Done when"), on real data:

* the dlib photos (real pixels, real boxes, real 5-point landmarks) and
* a WIDER subset (the first 30 image blocks of the real train file, images synthesised to size),

every written sample is re-derived independently: class from a recomputed IoU, `roi` mapping the
crop back onto the face, pixels from a recomputed crop + INTER_LINEAR resize, landmarks inside
(0, 1) mapping back to the source points, class counts exactly in the ratio. Plus layouts,
determinism over workers, kill + resume, refusal rules, dry runs, detections, missing images.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samplegen.outputs import read_mtcnn
from tests.cli.helpers import changed_keys, kill_group, manifest, ok, popen_cli, run_cli, run_inproc, tree_bytes
from tests.cli.mtcnn_checks import NAMES, Sources, assert_ratio, check_sample, class_counts

STAGES = {12: "pnet", 24: "rnet", 48: "onet"}
WIDER_SHARD = 8  # 30 WIDER images + 4 landmark images -> 5 shards


class Runs:
    """Each expensive CLI invocation once per module; results shared by the tests."""

    def __init__(self, base: Path):
        self.base = base
        self.cache: dict[str, tuple[Path, dict]] = {}

    def get(self, name: str, args: list, workers: int = 1) -> tuple[Path, dict]:
        if name not in self.cache:
            out = self.base / name
            summary = ok(run_inproc(["mtcnn", *args, "--out", out, "--workers", workers]))
            self.cache[name] = (out, summary)
        return self.cache[name]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    return Runs(tmp_path_factory.mktemp("mtcnn"))


@pytest.fixture(scope="module")
def dlib_sources(dlib) -> Sources:
    return Sources((dlib["wider"], "wider", dlib["root"]), (dlib["points"], "facepoints", dlib["root"]))


@pytest.fixture(scope="module")
def wider_sources(wider_subset, dlib) -> Sources:
    ann, images = wider_subset
    return Sources((ann, "wider", images), (dlib["points"], "facepoints", dlib["root"]))


def wider_run(runs: Runs, wider_args, layout: str = "packed", workers: int = 1, size: int = 12):
    return runs.get(f"wider-{size}-{layout}-w{workers}",
                    ["--size", size, *wider_args, "--layout", layout, "--shard-size", WIDER_SHARD], workers)


def assert_summary_matches(out: Path, summary: dict, samples: list) -> None:
    m = manifest(out)
    assert m["complete"] is True
    assert summary["counts"] == m["totals"]["counts"]
    assert summary["samples"] == m["totals"]["samples"] == len(samples)
    assert dict(class_counts(samples)) == {k: v for k, v in summary["counts"].items() if v}
    per_shard = Counter()
    for shard in m["shards"]:
        per_shard.update(shard["counts"])
    assert dict(per_shard) == m["totals"]["counts"]
    assert sum(s["samples"] for s in m["shards"]) == len(samples)
    assert {k: v for k, v in summary["selected"].items() if v} == {k: v for k, v in summary["counts"].items() if v}


# ------------------------------------------------------------------------------------------
# no options


@pytest.mark.parametrize("size", [12, 24, 48])
def test_runs_with_no_other_options(tmp_path, size):
    res = run_cli(["mtcnn", "--size", size], cwd=tmp_path)
    summary = ok(res)
    out = tmp_path / "samplegen-out" / STAGES[size]
    assert out.is_dir()
    names = sorted(p.name for p in out.iterdir())
    assert f"{STAGES[size]}-000000.images.npy" in names and f"{STAGES[size]}-000000.labels.npz" in names
    samples = list(read_mtcnn(out))
    assert samples and all(s["image"].shape == (size, size, 3) for s in samples)
    assert_summary_matches(out, summary, samples)
    assert_ratio(class_counts(samples), (1, 3, 1, 2))
    assert json.loads(res.stdout) == summary and res.stdout.strip().endswith("}")


# ------------------------------------------------------------------------------------------
# every sample exact: dlib photos and the WIDER subset, packed layout


@pytest.mark.parametrize("size", [12, 48])
def test_dlib_every_sample_exact(runs, dlib_args, dlib_sources, size):
    out, summary = runs.get(f"dlib-{size}", ["--size", size, *dlib_args, "--shard-size", 3])
    samples = list(read_mtcnn(out))
    assert_summary_matches(out, summary, samples)
    for s in samples:
        check_sample(s, size, dlib_sources)
    counts = class_counts(samples)
    assert_ratio(counts, (1, 3, 1, 2))
    lm = [s for s in samples if s["cls"] == -2]
    # the checks above must have seen every kind of landmark sample
    assert any(s["mirror"] and not s["angle"] for s in lm)
    assert any(s["angle"] and not s["mirror"] for s in lm)
    assert any(s["angle"] and s["mirror"] for s in lm)
    assert any(not s["angle"] and not s["mirror"] for s in lm)


def test_wider_subset_every_sample_exact(runs, wider_args, wider_sources):
    out, summary = wider_run(runs, wider_args)
    samples = list(read_mtcnn(out))
    assert_summary_matches(out, summary, samples)
    for s in samples:
        check_sample(s, 12, wider_sources)
    assert_ratio(class_counts(samples), (1, 3, 1, 2))
    # the subset has WIDER invalid boxes (ignore regions): negatives were tested against them
    assert any(r.ignore.shape[0] for r in wider_sources.records["faces"].values())
    assert len({s["source"] for s in samples if s["cls"] != -2}) > 10


def test_scarcest_class_sets_the_total(runs, wider_args):
    out, summary = wider_run(runs, wider_args)
    dry = ok(run_inproc(["mtcnn", "--size", 12, *wider_args, "--shard-size", WIDER_SHARD, "--dry-run",
                         "--workers", 1]))
    ratio = (1, 3, 1, 2)
    avail = [dry["available"][n] for n in ("pos", "neg", "part", "landmark")]
    unit = min(a // r for a, r in zip(avail, ratio))
    assert summary["selected"] == {n: r * unit for n, r in zip(("pos", "neg", "part", "landmark"), ratio)}
    assert dry["selected"] == summary["selected"]


def test_ratio_option(runs, wider_args, wider_sources):
    out, summary = runs.get("wider-ratio-1110", ["--size", 12, *wider_args, "--shard-size", WIDER_SHARD,
                                                 "--ratio", "1:1:1:0"])
    samples = list(read_mtcnn(out))
    counts = class_counts(samples)
    assert counts["landmark"] == 0
    assert_ratio(counts, (1, 1, 1, 0))
    assert_summary_matches(out, summary, samples)
    for s in samples[::7]:
        check_sample(s, 12, wider_sources)


# ------------------------------------------------------------------------------------------
# layouts


def _key(s: dict):
    return (int(s["cls"]), s["image"].tobytes())


@pytest.mark.parametrize("layout", ["wds", "list"])
def test_layouts_hold_the_same_samples(runs, wider_args, layout):
    packed_out, packed_summary = wider_run(runs, wider_args, "packed")
    out, summary = wider_run(runs, wider_args, layout)
    packed = list(read_mtcnn(packed_out))
    other = list(read_mtcnn(out))
    assert summary["counts"] == packed_summary["counts"]
    assert len(other) == len(packed)
    if layout == "wds":
        # same order, same fields, lossless PNG pixels
        for a, b in zip(packed, other):
            assert np.array_equal(a["image"], b["image"])
            for field in ("cls", "roi", "landmark", "crop", "angle", "mirror", "iou", "gt", "source"):
                np.testing.assert_array_equal(np.asarray(a[field]), np.asarray(b[field]), err_msg=field)
    else:
        a_sorted = sorted(packed, key=_key)
        b_sorted = sorted(other, key=_key)
        for a, b in zip(a_sorted, b_sorted):
            assert _key(a) == _key(b)
            if a["cls"] != -2:  # classic landmark lines carry the points only (no roi)
                np.testing.assert_allclose(b["roi"], a["roi"], rtol=0, atol=1e-6)
            np.testing.assert_allclose(b["landmark"], a["landmark"], rtol=0, atol=1e-6)


def test_list_layout_classic_files(runs, wider_args):
    out, summary = wider_run(runs, wider_args, "list")
    for name, code in (("pos", 1), ("neg", 0), ("part", -1), ("landmark", -2)):
        lines = (out / f"{name}_12.txt").read_text().splitlines()
        assert len(lines) == summary["counts"].get(name, 0)
        for line in lines[:50]:
            path, cls, *values = line.split()
            assert int(cls) == code
            assert len(values) == {1: 4, -1: 4, 0: 0, -2: 10}[code]
            assert (out / path).is_file()


def test_wds_readable_by_webdataset(runs, wider_args):
    import webdataset as wds

    out, summary = wider_run(runs, wider_args, "wds")
    shards = sorted(out.glob("*.tar"))
    assert len(shards) == len(manifest(out)["shards"])
    total = 0
    fields = {"label", "cls", "roi", "landmark", "crop", "angle", "mirror", "iou", "gt", "source"}
    for shard in shards:
        for sample in wds.WebDataset(str(shard), shardshuffle=False):
            assert "png" in sample and "json" in sample
            meta = json.loads(sample["json"])
            assert set(meta) == fields
            assert meta["label"] == NAMES[meta["cls"]]
            assert (meta["roi"] is None) == (meta["cls"] == 0)
            assert (meta["landmark"] is None) == (meta["cls"] != -2)
            assert isinstance(meta["source"], str) and len(meta["crop"]) == 4
            assert sample["png"][:8] == b"\x89PNG\r\n\x1a\n"
            total += 1
    assert total == summary["samples"]


# ------------------------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("layout", ["packed", "wds", "list"])
def test_same_bytes_for_one_and_two_workers(runs, wider_args, layout):
    out1, s1 = wider_run(runs, wider_args, layout, workers=1)
    out2, s2 = wider_run(runs, wider_args, layout, workers=2)
    a, b = tree_bytes(out1), tree_bytes(out2)
    ma, mb = json.loads(a.pop("manifest.json")), json.loads(b.pop("manifest.json"))
    assert len(ma["shards"]) >= 4
    assert sorted(a) == sorted(b)
    differ = [name for name in a if a[name] != b[name]]
    assert not differ, f"files differ between --workers 1 and 2: {differ}"
    assert changed_keys(ma, mb) == [], "manifest keys differ between --workers 1 and 2"
    assert {k: v for k, v in s1.items() if k != "out"} == {k: v for k, v in s2.items() if k != "out"}


def test_kill_and_resume_gives_the_bytes_of_an_uninterrupted_run(runs, wider_args, tmp_path):
    args = ["mtcnn", "--size", 12, *wider_args, "--layout", "wds", "--workers", 2, "--shard-size", 2]
    reference = tmp_path / "reference"
    ok(run_inproc([*args[:-4], "--workers", 1, "--shard-size", 2, "--out", reference]))  # bytes do not depend on workers
    planned = manifest(reference)["planned_shards"]
    assert planned >= 10
    caught = None
    for attempt in range(4):
        out = tmp_path / f"killed{attempt}"
        proc = popen_cli([*args, "--out", out], tmp_path)
        done = 0
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    done = len(manifest(out)["shards"])
                except (OSError, ValueError, KeyError):
                    done = 0
                if done >= 1:
                    break
                time.sleep(0.002)
        finally:
            kill_group(proc)
        if 1 <= done < planned and not manifest(out)["complete"]:
            caught = out
            break
    if caught is None:
        pytest.skip("the run finished before it could be killed mid-way")
    resumed = ok(run_cli([*args, "--out", caught, "--resume"]))
    assert resumed["resumed_shards"] >= 1
    a, b = tree_bytes(reference), tree_bytes(caught)
    ma, mb = json.loads(a.pop("manifest.json")), json.loads(b.pop("manifest.json"))
    assert sorted(a) == sorted(b), "temporary or missing files after resume"
    assert [n for n in a if a[n] != b[n]] == []
    assert changed_keys(ma, mb) == []


@pytest.fixture(scope="module")
def dlib_small(runs, dlib_args):
    return runs.get("dlib-refuse", ["--size", 12, *dlib_args, "--shard-size", 2])


def test_rerun_with_another_configuration_refuses(dlib_small, dlib_args):
    """The same finished run again is reported complete (exit 0); another configuration is refused
    with both ways out named."""
    out, _ = dlib_small
    before = tree_bytes(out)
    res = run_cli(["mtcnn", "--size", 12, *dlib_args, "--shard-size", 2, "--out", out, "--workers", 1, "--seed", 5])
    assert res.code == 2 and res.stdout == "" and "seed" in res.stderr
    assert len(res.stderr.splitlines()) == 1
    assert "--resume" in res.stderr and "--overwrite" in res.stderr
    assert tree_bytes(out) == before


def test_resume_with_another_seed_refuses(dlib_small, dlib_args):
    out, _ = dlib_small
    before = tree_bytes(out)
    res = run_cli(["mtcnn", "--size", 12, *dlib_args, "--shard-size", 2, "--out", out, "--workers", 1,
                   "--resume", "--seed", 5])
    assert res.code == 2 and res.stdout == ""
    assert "seed" in res.stderr and "Traceback" not in res.stderr
    assert tree_bytes(out) == before


def test_resume_of_a_complete_run_keeps_everything(dlib_small, dlib_args):
    out, summary = dlib_small
    before = tree_bytes(out)
    # --workers does not decide the bytes: resuming with another worker count is allowed
    again = ok(run_inproc(["mtcnn", "--size", 12, *dlib_args, "--shard-size", 2, "--out", out, "--workers", 2,
                           "--resume"]))
    assert again["resumed_shards"] == summary["shards"]
    assert again["counts"] == summary["counts"]
    assert tree_bytes(out) == before


def test_overwrite_replaces_the_run(runs, dlib_args, tmp_path):
    out, _ = runs.get("dlib-overwrite", ["--size", 12, *dlib_args, "--shard-size", 2])
    args = ["mtcnn", "--size", 12, *dlib_args, "--shard-size", 3, "--seed", 9, "--workers", 1]
    replaced = ok(run_inproc([*args, "--out", out, "--overwrite"]))
    fresh = tmp_path / "fresh"
    ok(run_inproc([*args, "--out", fresh]))
    assert manifest(out)["seed"] == 9 and replaced["resumed_shards"] == 0
    assert tree_bytes(out) == tree_bytes(fresh), "old shards left behind or different bytes"


# ------------------------------------------------------------------------------------------
# dry run, detections, missing images


def test_dry_run_prints_counts_and_writes_nothing(runs, dlib_args, tmp_path):
    out, summary = runs.get("dlib-12", ["--size", 12, *dlib_args, "--shard-size", 3])
    target = tmp_path / "dry"
    res = run_cli(["mtcnn", "--size", 12, *dlib_args, "--shard-size", 3, "--dry-run", "--out", target],
                  cwd=tmp_path)
    dry = ok(res)
    assert dry["dry_run"] is True
    assert dry["selected"] == summary["selected"]
    for name in ("pos", "neg", "part", "landmark"):
        assert dry["available"][name] >= dry["selected"][name]
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "dry run wrote files"


def _detections(dlib_sources: Sources, path: Path) -> dict[str, np.ndarray]:
    """Jittered GT boxes (pos/part candidates) + many random boxes (negatives) with scores."""
    rng = np.random.default_rng(7)
    written = {}
    with open(path, "w") as f:
        for image, rec in sorted(dlib_sources.records["faces"].items()):
            boxes = []
            for b in rec.boxes:
                w, h = b[2] - b[0], b[3] - b[1]
                for _ in range(6):
                    d = rng.uniform(-0.15, 0.15, 4) * [w, h, w, h]
                    boxes.append([*(b + d).tolist(), float(rng.uniform(0.5, 1))])
            for _ in range(150):
                side = rng.uniform(15, min(rec.width, rec.height) / 2)
                # more boxes than the 60-negative cap, some over the image border
                x, y = rng.uniform(-10, rec.width - side + 10), rng.uniform(-10, rec.height - side + 10)
                boxes.append([x, y, x + side * rng.uniform(0.8, 1.2), y + side, float(rng.uniform(0, 1))])
            f.write(json.dumps({"image": image, "boxes": boxes}) + "\n")
            written[image] = np.array(boxes, np.float64)
    return written


def _squares(det: np.ndarray) -> np.ndarray:
    side = np.floor(np.maximum(det[:, 2] - det[:, 0], det[:, 3] - det[:, 1]) + 0.5)
    x1 = np.floor((det[:, 0] + det[:, 2]) / 2 - side / 2 + 0.5)
    y1 = np.floor((det[:, 1] + det[:, 3]) / 2 - side / 2 + 0.5)
    return np.stack([x1, y1, x1 + side, y1 + side], 1).astype(np.float32)


@pytest.mark.parametrize("data", ["dlib", "wider"])
def test_detections_hard_examples(runs, data, request, tmp_path_factory):
    """--size 24 --detections: jittered GT boxes + random boxes; WIDER has ignore regions too."""
    from tests.cli.helpers import iou_np

    sources = request.getfixturevalue(f"{data}_sources")
    if data == "dlib":
        d = request.getfixturevalue("dlib")
        ann, images = d["wider"], d["root"]
    else:
        ann, images = request.getfixturevalue("wider_subset")
    path = tmp_path_factory.mktemp("dets") / "dets.jsonl"
    dets = _detections(sources, path)
    base = ["--size", 24, "--annotations", ann, "--format", "wider", "--images", images,
            "--detections", path, "--no-progress", "--shard-size", WIDER_SHARD]
    # every negative (ratio 0:1:0:0 selects all of them), then every pos/part
    neg_out, _ = runs.get(f"dets-neg-{data}", [*base, "--ratio", "0:1:0:0"])
    pp_out, _ = runs.get(f"dets-pospart-{data}", [*base, "--ratio", "1:0:1:0"])
    negs = list(read_mtcnn(neg_out))
    pps = list(read_mtcnn(pp_out))
    assert negs and pps
    assert {s["cls"] for s in negs} == {0} and {s["cls"] for s in pps} == {1, -1}
    per_image = Counter(s["source"] for s in negs)
    assert max(per_image.values()) <= 60
    for s in negs + pps:
        check_sample(s, 24, sources)
    # the negatives are exactly the 60 highest-scoring eligible squared detections per image
    for image, det in dets.items():
        rec = sources.records["faces"][image]
        sq = _squares(det)
        side = sq[:, 2] - sq[:, 0]
        inside = (sq[:, 0] >= 0) & (sq[:, 1] >= 0) & (sq[:, 2] <= rec.width) & (sq[:, 3] <= rec.height)
        best = np.array([iou_np(b, rec.boxes).max() if rec.boxes.shape[0] else 0 for b in sq], np.float32)
        if rec.ignore.shape[0]:
            clear = np.array([not (iou_np(b, rec.ignore) > 0).any() for b in sq])
        else:
            clear = np.ones(len(sq), bool)
        eligible = np.flatnonzero((side >= 20) & inside & (best < np.float32(0.3)) & clear)
        order = eligible[np.argsort(-det[eligible, 4].astype(np.float32), kind="stable")][:60]
        want = sorted(map(tuple, sq[order].tolist()))
        got = sorted(tuple(np.asarray(s["crop"]).tolist()) for s in negs if s["source"] == image)
        assert got == want, image
        # pos / part crops are squared detections too
        crops = {tuple(r) for r in sq.tolist()}
        assert all(tuple(np.asarray(s["crop"]).tolist()) in crops for s in pps if s["source"] == image)


def test_detections_dry_run_counts(dlib, tmp_path, dlib_sources):
    path = tmp_path / "dets.jsonl"
    _detections(dlib_sources, path)
    dry = ok(run_cli(["mtcnn", "--size", 24, "--annotations", dlib["wider"], "--images", dlib["root"],
                      "--detections", path, "--dry-run", "--no-progress"]))
    assert dry["available"]["neg"] <= 60 * len(dlib_sources.records["faces"])
    assert dry["available"]["landmark"] == 0


def test_detections_refused_for_size_12(dlib, tmp_path):
    path = tmp_path / "dets.jsonl"
    path.write_text('{"image": "2007_007763.jpg", "boxes": [[1, 2, 30, 40, 0.9]]}\n')
    res = run_cli(["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--images", dlib["root"],
                   "--detections", path, "--out", tmp_path / "o"])
    assert res.code == 2 and res.stdout == ""
    assert not (tmp_path / "o").exists()


KEPT_IMAGE = "2007_007763.jpg"  # the first dlib photo of the annotations; the others are missing


def partial_root(dlib, tmp_path: Path) -> Path:
    """An images folder holding one of the annotated photos: the folder is the right one (a folder
    with none of them is refused before planning), and the other images are missing."""
    root = tmp_path / "partial"
    root.mkdir()
    (root / KEPT_IMAGE).write_bytes((dlib["root"] / KEPT_IMAGE).read_bytes())
    return root


def dlib_images(dlib) -> set[str]:
    return {im["file_name"] for im in json.loads(dlib["coco"].read_text())["images"]}


def test_missing_images_fail_over_max_errors(dlib, tmp_path):
    """COCO form (sizes in the annotation): three of the four images are missing when cut."""
    res = run_cli(["mtcnn", "--size", 12, "--annotations", dlib["coco"], "--format", "coco",
                   "--images", partial_root(dlib, tmp_path),
                   "--out", tmp_path / "out", "--workers", 1, "--no-progress"])
    assert res.code == 1, res.stderr
    assert res.stdout == ""
    assert len(res.stderr.splitlines()) == 1
    assert "--max-errors" in res.stderr and "missing" in res.stderr and "Traceback" not in res.stderr


def test_missing_images_tolerated_are_listed(dlib, tmp_path):
    out = tmp_path / "out"
    summary = ok(run_cli(["mtcnn", "--size", 12, "--annotations", dlib["coco"], "--format", "coco",
                          "--images", partial_root(dlib, tmp_path), "--out", out, "--workers", 1, "--no-progress",
                          "--max-errors", 1000]))
    m = manifest(out)
    missing = dlib_images(dlib) - {KEPT_IMAGE}
    assert {s["image"] for s in m["skipped_images"]} == missing
    assert {s["reason"] for s in m["skipped_images"]} == {"missing"}
    assert summary["skipped_images"] == len(missing) == 3
    assert summary["samples"] > 0 and {s["source"] for s in read_mtcnn(out, images=False)} <= {KEPT_IMAGE}


def test_missing_images_without_sizes_fail_over_max_errors(dlib, tmp_path):
    """WIDER form: sizes come from image headers, so the missing images are skipped while
    planning; with --max-errors 0 the run must fail (exit 1), not report success."""
    res = run_cli(["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--format", "wider",
                   "--images", partial_root(dlib, tmp_path),
                   "--out", tmp_path / "out", "--workers", 1, "--no-progress"])
    assert res.code == 1, f"exit {res.code}: {res.stdout[:300]}"


def test_images_skipped_while_planning_are_counted(dlib, tmp_path):
    out = tmp_path / "out"
    summary = ok(run_cli(["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--format", "wider",
                          "--images", partial_root(dlib, tmp_path), "--out", out, "--workers", 1, "--no-progress",
                          "--max-errors", 100]))
    m = manifest(out)
    assert [s["reason"] for s in m["skipped_images"]] == ["no_size"] * 3
    assert summary["skipped_images"] == 3 and m["totals"]["skipped_images"] == 3


# ------------------------------------------------------------------------------------------
# options: --pad, --allow-duplicates, configuration precedence, progress


def test_pad_zero_pads_crops_leaving_the_image(runs, dlib_args, dlib_sources):
    out, summary = runs.get("dlib-24-pad", ["--size", 24, *dlib_args, "--pad"])
    samples = list(read_mtcnn(out))
    assert_ratio(class_counts(samples), (1, 3, 1, 2))
    leaving = 0
    for s in samples:
        rec = dlib_sources.record("landmarks" if s["cls"] == -2 else "faces", s["source"])
        x1, y1, x2, y2 = s["crop"]
        leaving += bool(x1 < 0 or y1 < 0 or x2 > rec.width or y2 > rec.height)
        check_sample(s, 24, dlib_sources, pad=True)
    assert leaving > 0, "no padded crop was written: the test would not see padding"


def test_allow_duplicates_fills_short_classes(runs, dlib, tmp_path):
    args = ["--size", 12, "--annotations", dlib["wider"], "--images", dlib["root"], "--ratio", "1:3:1:0",
            "--allow-duplicates", "--no-progress"]
    # pos sets the total; negatives are plentiful, part may be short -> duplicates
    dry = ok(run_inproc(["mtcnn", *args, "--dry-run", "--workers", 1]))
    unit = dry["available"]["pos"]
    assert dry["selected"] == {"pos": unit, "neg": 3 * unit, "part": unit, "landmark": 0}
    for name in ("pos", "neg", "part"):
        assert dry["duplicates"][name] == max(0, dry["selected"][name] - dry["available"][name])
    out, summary = runs.get("dlib-dups", args)
    samples = list(read_mtcnn(out))
    assert class_counts(samples) == Counter({k: v for k, v in dry["selected"].items() if v})
    assert sum(dry["duplicates"].values()) > 0, "no class was short: the test would not see duplicates"

    def multiset(items, code):
        return Counter((s["source"], tuple(np.asarray(s["crop"]).tolist())) for s in items if s["cls"] == code)

    plain = ["--size", 12, "--annotations", dlib["wider"], "--images", dlib["root"], "--no-progress"]
    for name, code, ratio in (("pos", 1, "1:0:0:0"), ("neg", 0, "0:1:0:0"), ("part", -1, "0:0:1:0")):
        every, _ = runs.get(f"dlib-all-{name}", [*plain, "--ratio", ratio])
        everything = multiset(read_mtcnn(every), code)
        assert sum(everything.values()) == dry["available"][name]
        chosen = multiset(samples, code)
        if dry["selected"][name] >= dry["available"][name]:
            # a short class takes every planned sample once, plus draws with replacement
            assert not (everything - chosen), f"{name}: a planned sample is missing"
        else:
            assert not (chosen - everything), f"{name}: a sample that was not planned"


def test_configuration_precedence(dlib, tmp_path):
    """command line > SAMPLEGEN_* environment > --config file > preset; sources in the manifest."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("seed: 1\nneg_per_image: 7\n")
    base = ["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--images", dlib["root"], "--config", cfg,
            "--workers", 1, "--no-progress"]
    cases = [({}, [], 1, f"file:{cfg}"), ({"SAMPLEGEN_SEED": "2"}, [], 2, "environment:SAMPLEGEN_SEED"),
             ({"SAMPLEGEN_SEED": "2"}, ["--seed", 3], 3, "command line")]
    for i, (env, extra, seed, source) in enumerate(cases):
        out = tmp_path / f"o{i}"
        ok(run_cli([*base, *extra, "--out", out], env=env))
        m = manifest(out)
        assert m["seed"] == seed and m["config"]["seed"] == seed
        assert m["config_sources"]["seed"] == source, m["config_sources"]["seed"]
        assert m["config"]["neg_per_image"] == 7
        assert m["config_sources"]["pos_iou_thr"].startswith("preset")


def test_unknown_config_key_exit_2(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("landmark:\n  min_faces: 20\n")
    res = run_cli(["mtcnn", "--config", cfg, "--out", tmp_path / "o"], cwd=tmp_path)
    assert res.code == 2 and res.stdout == ""
    assert len(res.stderr.splitlines()) == 1 and "min_faces" in res.stderr
    assert not (tmp_path / "o").exists()


def test_resume_and_overwrite_exclude_each_other(tmp_path):
    res = run_cli(["mtcnn", "--resume", "--overwrite", "--out", tmp_path / "o"])
    assert res.code == 2 and res.stdout == "" and "Traceback" not in res.stderr


def test_no_progress_bar_when_stderr_is_not_a_terminal(dlib, tmp_path):
    res = run_cli(["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--images", dlib["root"],
                   "--out", tmp_path / "o", "--workers", 1])
    ok(res)
    assert res.stderr == ""


def test_malformed_detections_exit_2(dlib, tmp_path):
    bad = tmp_path / "dets.jsonl"
    bad.write_text('{"image": "2007_007763.jpg", "boxes": [[1, 2, 30, 40, 0.9]]}\n{"image": "x.jpg", "boxes": [[1, 2, 3]]}\n')
    res = run_cli(["mtcnn", "--size", 24, "--annotations", dlib["wider"], "--images", dlib["root"],
                   "--detections", bad, "--out", tmp_path / "o"])
    assert res.code == 2 and res.stdout == ""
    assert res.stderr.startswith(f"samplegen: {bad}:2: ") and len(res.stderr.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_resume_refused_when_the_annotation_changed(dlib, tmp_path):
    ann = tmp_path / "faces.txt"
    ann.write_text(dlib["wider"].read_text())
    args = ["mtcnn", "--size", 12, "--annotations", ann, "--images", dlib["root"], "--out", tmp_path / "o",
            "--workers", 1, "--no-progress"]
    ok(run_inproc(args))
    m = manifest(tmp_path / "o")
    import hashlib
    assert m["inputs"][0]["sha256"] == hashlib.sha256(ann.read_bytes()).hexdigest()
    ann.write_text(ann.read_text().replace("194 90 37 37", "195 90 37 37", 1))
    res = run_cli([*args, "--resume"])
    assert res.code == 2 and "inputs" in res.stderr


def test_images_skipped_while_planning_are_listed_in_the_plan(dlib, tmp_path):
    """WIDER form with images missing: their sizes are unknown, so they are skipped (no_size) while
    planning and listed in the manifest's plan."""
    out = tmp_path / "out"
    summary = ok(run_cli(["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--images", partial_root(dlib, tmp_path),
                          "--out", out, "--workers", 1, "--no-progress", "--max-errors", 1000]))
    skipped = manifest(out)["skipped_images"]
    assert sorted(s["image"] for s in skipped) == sorted(
        line for line in dlib["wider"].read_text().splitlines() if line.endswith(".jpg") and line != KEPT_IMAGE)
    assert {s["reason"] for s in skipped} == {"no_size"}
    assert summary["samples"] > 0


def test_shard_size_changes_boundaries_not_samples(runs, dlib_args):
    """Balancing is global and every image has its own generator: shard size 2 and 3 give the same
    samples in the same order; another seed gives other samples."""
    out3, s3 = runs.get("dlib-12", ["--size", 12, *dlib_args, "--shard-size", 3])
    out2, s2 = runs.get("dlib-refuse", ["--size", 12, *dlib_args, "--shard-size", 2])
    assert len(manifest(out3)["shards"]) != len(manifest(out2)["shards"])
    a, b = list(read_mtcnn(out3)), list(read_mtcnn(out2))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.array_equal(x["image"], y["image"]) and x["source"] == y["source"]
        np.testing.assert_array_equal(x["crop"], y["crop"])
    other, _ = runs.get("dlib-12-seed4", ["--size", 12, *dlib_args, "--shard-size", 3, "--seed", 4])
    c = list(read_mtcnn(other))
    assert [tuple(np.asarray(x["crop"]).tolist()) for x in a] != [tuple(np.asarray(x["crop"]).tolist()) for x in c]


@pytest.mark.parametrize("ratio", ["1:3:1", "1:3:1:x", "0:0:0:0", "-1:3:1:2"])
def test_bad_ratio_exit_2(ratio, tmp_path):
    res = run_cli(["mtcnn", "--ratio", ratio, "--out", tmp_path / "o"])
    assert res.code == 2 and res.stdout == "" and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("data", ["dlib", "wider"])
def test_sampling_geometry_follows_the_rules(runs, data, request):
    """Issue 3 sampling rules on the written samples: negatives have side in [S, min(W, H) / 2];
    pos/part crops come from faces >= min_face (20 px), side in [0.8 min(w, h), 1.25 max(w, h)] and
    centre within +-0.2 w / h (+ half a pixel of rounding) of the matched face."""
    if data == "dlib":
        out, _ = runs.get("dlib-12", ["--size", 12, *request.getfixturevalue("dlib_args"), "--shard-size", 3])
    else:
        out, _ = wider_run(runs, request.getfixturevalue("wider_args"))
    sources = request.getfixturevalue(f"{data}_sources")
    seen = Counter()
    for s in read_mtcnn(out):
        if s["cls"] == -2:
            continue
        rec = sources.record("faces", s["source"])
        c = np.asarray(s["crop"], np.float64)
        side = c[2] - c[0]
        seen[s["cls"]] += 1
        if s["cls"] == 0:
            assert 12 <= side <= np.floor(0.5 * min(rec.width, rec.height)), s["crop"]
            continue
        f = rec.boxes[int(s["gt"])].astype(np.float64)
        w, h = f[2] - f[0], f[3] - f[1]
        assert max(w, h) >= 20
        assert np.ceil(0.8 * min(w, h) - 1e-9) <= side <= np.floor(1.25 * max(w, h) + 1e-9)
        assert abs((c[0] + c[2]) / 2 - (f[0] + f[2]) / 2) <= 0.2 * w + 0.5
        assert abs((c[1] + c[3]) / 2 - (f[1] + f[3]) / 2) <= 0.2 * h + 0.5
    assert seen[0] and seen[1] and seen[-1]


def test_missing_landmark_images_stop_the_run_instead_of_an_empty_selection(dlib, lm_config, tmp_path):
    """Faces plan fine but no landmark image can be read (each file is there, none is a picture):
    the 1:3:1:2 ratio would select nothing at all, so even with the skips tolerated the run
    refuses, says why, writes nothing. (A folder holding none of them is refused earlier.)"""
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    for line in dlib["points"].read_text().splitlines():
        (unreadable / line.split()[0]).write_bytes(b"not a picture")
    out = tmp_path / "out"
    args = ["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--format", "wider", "--images", dlib["root"],
            "--landmarks", dlib["points"], "--landmark-images", unreadable, "--config", lm_config, "--out", out,
            "--workers", 1, "--no-progress", "--max-errors", 1000]
    res = run_cli(args)
    assert res.code == 2 and res.stdout == ""
    assert "needs landmark samples" in res.stderr and "--ratio" in res.stderr
    assert len(res.stderr.splitlines()) == 1 and not out.exists()
    # With the landmark share at 0 the same inputs run.
    summary = ok(run_cli([*args, "--ratio", "1:3:1:0"]))
    assert summary["samples"] > 0 and summary["selected"]["landmark"] == 0


def test_resume_verify_redoes_a_damaged_shard(tmp_path, dlib_args):
    # A finished manifest records no file times, so any resume of it hashes every file; --verify
    # is about unfinished runs (tests/engine). Here: mtcnn takes it and the bytes come back.
    out = tmp_path / "out"
    args = ["mtcnn", "--size", "12", *dlib_args, "--shard-size", "1", "--workers", "1", "--out", out]
    ok(run_inproc(args))
    reference, shards = tree_bytes(out), len(manifest(out)["shards"])
    victim = out / "pnet-000000.images.npy"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF                            # same size
    victim.write_bytes(bytes(data))
    redone = ok(run_inproc([*args, "--resume", "--verify"]))
    assert redone["resumed_shards"] == shards - 1 and tree_bytes(out) == reference


def test_follow_symlinks_reads_images_linked_from_outside_the_root(tmp_path):
    from samplegen import embedded

    root = tmp_path / "images"
    root.mkdir()
    for photo in embedded.ROOT.glob("*.jpg"):
        (root / photo.name).symlink_to(photo)    # the photos themselves live outside the root
    args = ["mtcnn", "--size", "12", "--annotations", embedded.ROOT / "wider_face_sample_bbx_gt.txt", "--format", "wider",
            "--images", root, "--ratio", "1:3:1:0", "--no-progress", "--workers", "1"]
    refused = run_cli([*args, "--out", tmp_path / "no"])
    assert refused.code == 1 and "outside_root" in refused.stderr and refused.stderr.count("\n") == 1
    linked = ok(run_inproc([*args, "--follow-symlinks", "--out", tmp_path / "yes"]))
    assert linked["samples"] > 0
