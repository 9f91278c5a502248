"""`samplegen mtcnn` layouts and run options of issue 12, end to end on real data.

TFRecord shards byte-identical for any worker count and after kill + --resume; one channel order
whatever the layout; the list dialects' files and paths; the class filter on COCO's 80 classes;
the shard plans (--shards, and the default's minimum count).
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samplegen.outputs import read_mtcnn
from tests.cli.helpers import (CachedRuns, changed_keys, iou_np, kill_group, manifest, ok, popen_cli, run_cli,
                               run_inproc, tree_bytes)

WIDER_SHARD = 8


def run_main(args: list, capsys) -> tuple[int, str, str]:
    """`samplegen.cli.main` in this process (errors mapped to exit codes as from the shell)."""
    from samplegen.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> CachedRuns:
    return CachedRuns(tmp_path_factory.mktemp("layouts"))


def wider(runs: CachedRuns, wider_args, *layout: str, workers: int = 1, size: int = 12):
    name = f"w{size}-{'-'.join(layout)}-w{workers}"
    return runs.get(name, ["--size", size, *wider_args, "--shard-size", WIDER_SHARD, *layout], workers)


def assert_same_trees(a_dir: Path, b_dir: Path) -> None:
    a, b = tree_bytes(a_dir), tree_bytes(b_dir)
    ma, mb = json.loads(a.pop("manifest.json")), json.loads(b.pop("manifest.json"))
    assert sorted(a) == sorted(b), "different files"
    assert [n for n in a if a[n] != b[n]] == [], "files differ"
    assert changed_keys(ma, mb) == []


# ------------------------------------------------------------------------------------------
# tfrecord: determinism


@pytest.mark.parametrize("split", ["mixed", "per-class"])
def test_tfrecord_same_bytes_for_one_and_two_workers(runs, wider_args, split):
    layout = ("--layout", "tfrecord", "--tfrecord-split", split)
    one, s1 = wider(runs, wider_args, *layout, workers=1, size=48 if split == "per-class" else 12)
    two, s2 = wider(runs, wider_args, *layout, workers=2, size=48 if split == "per-class" else 12)
    assert len(manifest(one)["shards"]) >= 4
    assert manifest(one)["layout"] == f"tfrecord:{split}"
    assert_same_trees(one, two)
    assert {k: v for k, v in s1.items() if k != "out"} == {k: v for k, v in s2.items() if k != "out"}


def test_tfrecord_kill_and_resume_gives_the_bytes_of_an_uninterrupted_run(wider_args, tmp_path):
    args = ["mtcnn", "--size", 24, *wider_args, "--layout", "tfrecord", "--tfrecord-split", "per-class",
            "--shard-size", 2]
    reference = tmp_path / "reference"
    ok(run_inproc([*args, "--workers", 1, "--out", reference]))
    planned = manifest(reference)["planned_shards"]
    assert planned >= 10
    caught = None
    for attempt in range(4):
        out = tmp_path / f"killed{attempt}"
        proc = popen_cli([*args, "--workers", 2, "--out", out], tmp_path)
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
    assert not (caught / "pos_landmark.tfrecord_shuffle").exists()  # merged only at the end
    resumed = ok(run_cli([*args, "--workers", 2, "--out", caught, "--resume"]))
    assert resumed["resumed_shards"] >= 1
    assert_same_trees(reference, caught)


# ------------------------------------------------------------------------------------------
# one channel order


def test_every_layout_reads_back_in_one_channel_order(runs, wider_args):
    outs = {"packed": wider(runs, wider_args)[0], "wds": wider(runs, wider_args, "--layout", "wds")[0],
            "tfrecord": wider(runs, wider_args, "--layout", "tfrecord")[0],
            "list": wider(runs, wider_args, "--layout", "list", "--list-style", "aittsmd")[0]}
    bgr = {name: Counter(s["image"].tobytes() for s in read_mtcnn(out)) for name, out in outs.items()}
    rgb = {name: Counter(s["image"].tobytes() for s in read_mtcnn(out, channels="rgb")) for name, out in outs.items()}
    flipped = Counter(np.ascontiguousarray(s["image"][..., ::-1]).tobytes() for s in read_mtcnn(outs["packed"]))
    for name in outs:
        assert bgr[name] == bgr["packed"], f"{name} images differ from packed (BGR)"
        assert rgb[name] == flipped, f"{name} channels='rgb' is not packed flipped"
        assert manifest(outs[name])["plan"]["channel_order"] == "bgr"
    with pytest.raises(ValueError, match="channels"):
        next(read_mtcnn(outs["packed"], channels="bgra"))


# ------------------------------------------------------------------------------------------
# list dialects


def test_list_styles_file_names(runs, wider_args):
    aittsmd, s = wider(runs, wider_args, "--layout", "list", "--list-style", "aittsmd")
    names = {p.name for p in aittsmd.iterdir() if p.is_file()}
    assert names == {"manifest.json", "pos_12.txt", "neg_12.txt", "part_12.txt", "landmark_12_aug.txt"}
    assert len((aittsmd / "landmark_12_aug.txt").read_text().splitlines()) == s["counts"]["landmark"]
    dface, s = wider(runs, wider_args, "--layout", "list", "--list-style", "dface")
    merged = (dface / "imglist_anno_12.txt").read_text().splitlines()
    labels = [int(line.split(" ")[1]) for line in merged]
    # DFace's assemble order: pos, part, neg, landmark
    assert labels == [1] * s["counts"]["pos"] + [-1] * s["counts"]["part"] + [0] * s["counts"]["neg"] + \
        [-2] * s["counts"]["landmark"]
    assert all(line.split(" ")[0].endswith(".jpg") for line in merged)
    assert manifest(dface)["layout"] == "list:jpg:dface"


def test_dface_lines_have_the_field_counts_of_a_real_dface_list(runs, wider_args, shared_data):
    """The Sierkinhane ONet list (a real DFace-format file): 2 fields for neg, 6 for pos/part,
    16 (path, label, 4 box targets, 10 points) for landmark; samplegen's dface lines match."""
    real = (shared_data / "lists" / "sierkinhane_imglist_anno_48.txt").read_text().splitlines()
    real_counts = {int(f[1]): len(f) for f in (line.strip().split(" ") for line in real)}
    assert real_counts == {1: 6, -1: 6, 0: 2, -2: 16}
    dface, _ = wider(runs, wider_args, "--layout", "list", "--list-style", "dface")
    ours = [line.strip().split(" ") for line in (dface / "imglist_anno_12.txt").read_text().splitlines()]
    assert {int(f[1]): len(f) for f in ours} == real_counts
    assert all(len(f) == real_counts[int(f[1])] for f in ours)


def test_absolute_and_relative_paths(runs, wider_args):
    absolute, _ = wider(runs, wider_args, "--layout", "list", "--list-style", "aittsmd")
    relative, _ = wider(runs, wider_args, "--layout", "list", "--list-style", "aittsmd", "--relative-paths")
    classic, _ = wider(runs, wider_args, "--layout", "list")
    a, r, c = tree_bytes(absolute), tree_bytes(relative), tree_bytes(classic)
    shard_files = [n for n in a if "/" in n]
    assert shard_files and all(a[n] == r[n] for n in shard_files)  # shards never hold absolute paths
    prefix = absolute.resolve().as_posix() + "/"
    for name in ("pos_12.txt", "neg_12.txt", "part_12.txt", "landmark_12_aug.txt"):
        lines = a[name].decode().splitlines()
        assert lines and all(line.startswith(prefix) for line in lines)
        assert [line[len(prefix):] for line in lines] == r[name].decode().splitlines()
        assert all(Path(line.split(" ")[0]).is_file() for line in lines)
    # classic: samplegen's historical lists, relative to the output folder, landmark_12.txt
    assert c["landmark_12.txt"] == r["landmark_12_aug.txt"] and c["pos_12.txt"] == r["pos_12.txt"]
    assert manifest(absolute)["config"]["list_paths"] == "absolute"
    assert "list_paths" not in manifest(relative)["config"] and manifest(classic)["layout"] == "list:png"


def test_absolute_lists_same_bytes_for_one_and_two_workers(runs, wider_args):
    one, _ = wider(runs, wider_args, "--layout", "list", "--list-style", "dface", workers=1)
    two, _ = wider(runs, wider_args, "--layout", "list", "--list-style", "dface", workers=2)
    a, b = tree_bytes(one), tree_bytes(two)
    a.pop("manifest.json"), b.pop("manifest.json")
    assert sorted(a) == sorted(b)
    prefix_a, prefix_b = (out.resolve().as_posix().encode() + b"/" for out in (one, two))
    assert [n for n in a if a[n].replace(prefix_a, b"") != b[n].replace(prefix_b, b"")] == []


@pytest.mark.parametrize("options,message", [
    (["--layout", "packed", "--list-style", "dface"], "list_style applies to the list layout"),
    (["--layout", "list", "--tfrecord-split", "mixed"], "tfrecord_split applies to the tfrecord layout"),
    (["--layout", "wds", "--relative-paths"], "relative_paths applies to the list layout"),
    (["--layout", "list", "--list-style", "dface", "--image-format", "png"], "needs jpg images"),
    (["--shards", "2", "--shard-size", "3"], "--shards and --shard-size exclude each other"),
])
def test_option_refusals(options, message, tmp_path, capsys):
    code, out, err = run_main(["mtcnn", "--out", tmp_path / "o", "--no-progress", *options], capsys)
    assert code == 2 and out == "" and message in err
    assert not (tmp_path / "o").exists()


def test_absolute_lists_refuse_a_folder_with_whitespace(tmp_path, capsys):
    out = tmp_path / "with space" / "o"
    code, stdout, err = run_main(["mtcnn", "--layout", "list", "--list-style", "aittsmd", "--out", out,
                                  "--no-progress"], capsys)
    assert code == 2 and "--relative-paths" in err and len(err.splitlines()) == 1
    assert not out.exists()
    ok(run_inproc(["mtcnn", "--layout", "list", "--list-style", "aittsmd", "--relative-paths", "--out", out,
                   "--no-progress", "--workers", 1]))


# ------------------------------------------------------------------------------------------
# class filter


def test_multi_class_input_is_refused_with_its_classes(coco_subset, shared_data, tmp_path, capsys):
    images = shared_data / "coco128" / "images" / "train2017"
    base = ["mtcnn", "--annotations", coco_subset, "--format", "coco", "--images", images, "--ratio", "1:3:1:0",
            "--out", tmp_path / "o", "--no-progress"]
    code, out, err = run_main(base, capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "80 classes" in err and "1 person" in err and "90 toothbrush" in err
    assert "--classes" in err and not (tmp_path / "o").exists()
    code, out, err = run_main([*base, "--classes", "unicorn"], capsys)
    assert code == 2 and "'unicorn' is not a class" in err


def test_class_filter_keeps_only_the_chosen_boxes(coco_subset, shared_data, tmp_path):
    images = shared_data / "coco128" / "images" / "train2017"
    base = ["mtcnn", "--annotations", coco_subset, "--format", "coco", "--images", images, "--ratio", "1:3:1:0",
            "--no-progress", "--workers", 1]
    by_name = ok(run_inproc([*base, "--classes", "person", "--out", tmp_path / "name"]))
    ok(run_inproc([*base, "--classes", "1", "--out", tmp_path / "id"]))
    assert tree_bytes(tmp_path / "name") == tree_bytes(tmp_path / "id")  # name and COCO id agree
    assert manifest(tmp_path / "name")["config"]["classes"] == ["person"]
    # every positive matches a person box of the JSON (read here without samplegen)
    data = json.loads(Path(coco_subset).read_text())
    files = {im["id"]: im["file_name"] for im in data["images"]}
    persons: dict[str, list] = {}
    for a in data["annotations"]:
        if a["category_id"] == 1 and not a.get("iscrowd"):
            x, y, w, h = a["bbox"]
            persons.setdefault(files[a["image_id"]], []).append([x, y, x + w, y + h])
    samples = list(read_mtcnn(tmp_path / "name", images=False))
    positives = [s for s in samples if s["cls"] == 1]
    assert positives and by_name["counts"]["pos"] == len(positives)
    for s in positives:
        assert iou_np(s["crop"], np.array(persons[s["source"]], np.float32)).max() >= np.float32(0.65)


# ------------------------------------------------------------------------------------------
# shard plans


def test_shards_option_gives_balanced_shards(runs, wider_args):
    out, summary = runs.get("shards3", ["--size", 12, *wider_args, "--shards", 3])
    m = manifest(out)
    sizes = [s["images"] for s in m["shards"]]
    assert len(sizes) == 3 and max(sizes) - min(sizes) <= 1 and sum(sizes) == summary["images"]
    assert m["config"]["shards"] == 3 and m["config_sources"]["shards"] == "command line"
    assert m["shard_size"] == max(sizes)


def test_default_plan_gives_min_16_shards_and_resume_checks_it(runs, wider_args, capsys):
    out, summary = runs.get("default", ["--size", 12, *wider_args])
    m = manifest(out)
    assert summary["images"] >= 16 and len(m["shards"]) == 16
    assert m["config"]["shards"] == 16 and m["config_sources"]["shards"].startswith("default")
    code, _, err = run_main(["mtcnn", "--size", 12, *wider_args, "--out", out, "--resume", "--shard-size", 100],
                            capsys)
    assert code == 2 and "shard" in err  # another plan: not the same run
    again = ok(run_inproc(["mtcnn", "--size", 12, *wider_args, "--out", out, "--resume", "--workers", 2]))
    assert again["resumed_shards"] == 16
