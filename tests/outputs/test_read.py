"""`samplegen.outputs`: `read_mtcnn` over the three layouts and `read_anchors`, on real CLI output
(dlib photos: real pixels, boxes and landmarks)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from samplegen.errors import ConfigError
from samplegen.outputs import read_anchors, read_mtcnn
from tests.cli.helpers import manifest, ok, run_inproc


@pytest.fixture(scope="module")
def dlib_paths(shared_data: Path, tmp_path_factory) -> dict:
    root = shared_data / "dlib_faces"
    cfg = tmp_path_factory.mktemp("outputs-cfg") / "lm.yaml"
    cfg.write_text("landmark:\n  min_face: 20\n")
    return {"root": root, "wider": root / "derived/wider_face_train_bbx_gt.txt",
            "points": root / "derived/trainImageList.txt", "coco": root / "derived/instances_train.json",
            "config": cfg}


@pytest.fixture(scope="module")
def layouts(dlib_paths, tmp_path_factory) -> dict[str, Path]:
    """The same size-24 run (seed 3) in every layout (+ wds with JPEG images)."""
    base = tmp_path_factory.mktemp("outputs")
    d = dlib_paths
    args = ["mtcnn", "--size", 24, "--annotations", d["wider"], "--images", d["root"], "--landmarks", d["points"],
            "--landmark-images", d["root"], "--config", d["config"], "--seed", 3, "--shard-size", 3,
            "--workers", 1, "--no-progress"]
    outs = {}
    for name, extra in (("packed", []), ("wds", ["--layout", "wds"]), ("list", ["--layout", "list"]),
                        ("wds-jpg", ["--layout", "wds", "--image-format", "jpg"])):
        outs[name] = base / name
        ok(run_inproc([*args, *extra, "--out", outs[name]]))
    return outs


def _multiset(samples: list[dict]) -> list[tuple]:
    """Sorted (cls, image bytes, values) with values = landmark for landmark rows, else roi."""
    rows = []
    for s in samples:
        values = s["landmark"] if s["cls"] == -2 else s["roi"]
        rows.append((int(s["cls"]), np.asarray(s["image"]).tobytes(), np.asarray(values, np.float64)))
    return sorted(rows, key=lambda r: (r[0], r[1], r[2].tolist()))


def test_every_layout_yields_the_same_samples(layouts):
    packed = list(read_mtcnn(layouts["packed"]))
    assert len(packed) == manifest(layouts["packed"])["totals"]["samples"] > 0
    want = _multiset(packed)
    for name in ("wds", "list"):
        got = _multiset(list(read_mtcnn(layouts[name])))
        assert len(got) == len(want), name
        for (c1, b1, v1), (c2, b2, v2) in zip(want, got):
            assert (c1, b1) == (c2, b2), f"{name}: image or class differs"
            # list layout: values written with 9 significant digits
            np.testing.assert_allclose(v2, v1, rtol=0, atol=0 if name == "wds" else 1e-6, err_msg=name)


def test_sample_fields_and_types(layouts):
    for name in ("packed", "wds"):
        for s in read_mtcnn(layouts[name]):
            assert s["image"].shape == (24, 24, 3) and s["image"].dtype == np.uint8
            assert isinstance(s["cls"], int) and s["label"] == {1: "pos", 0: "neg", -1: "part", -2: "landmark"}[s["cls"]]
            assert np.asarray(s["roi"]).shape == (4,) and np.asarray(s["landmark"]).shape == (10,)
            assert np.asarray(s["crop"]).shape == (4,)
            assert isinstance(s["source"], str)
    for s in read_mtcnn(layouts["list"]):
        assert s["image"].shape == (24, 24, 3)
        assert (layouts["list"] / s["path"]).is_file()


def test_packed_and_wds_agree_row_by_row(layouts):
    for a, b in zip(read_mtcnn(layouts["packed"]), read_mtcnn(layouts["wds"]), strict=True):
        assert np.array_equal(a["image"], b["image"])
        assert a["source"] == b["source"] and a["cls"] == b["cls"] and int(a["gt"]) == int(b["gt"])
        for field in ("roi", "landmark", "crop", "angle", "iou", "mirror"):
            np.testing.assert_array_equal(np.asarray(a[field]), np.asarray(b[field]), err_msg=field)


def test_wds_jpeg_images_are_close(layouts):
    a = list(read_mtcnn(layouts["packed"]))
    b = list(read_mtcnn(layouts["wds-jpg"]))
    assert len(a) == len(b)
    diff = np.mean([np.abs(x["image"].astype(int) - y["image"].astype(int)).mean() for x, y in zip(a, b)])
    assert diff < 4
    assert [x["cls"] for x in a] == [y["cls"] for y in b]


def test_packed_labels_load_without_pickle(layouts):
    out = layouts["packed"]
    for shard in manifest(out)["shards"]:
        images, labels = (out / f["name"] for f in shard["files"])
        arr = np.load(images, mmap_mode="r")
        lab = np.load(labels, allow_pickle=False)
        assert arr.dtype == np.uint8 and arr.shape[1:] == (24, 24, 3)
        for key, dtype in (("cls", np.int8), ("roi", np.float32), ("landmark", np.float32), ("crop", np.float32),
                           ("angle", np.float32), ("mirror", np.bool_), ("iou", np.float32), ("gt", np.int32),
                           ("source", np.int32)):
            assert lab[key].dtype == dtype and lab[key].shape[0] == arr.shape[0], key
        assert lab["sources"].dtype.kind == "U"
        assert (lab["source"] < len(lab["sources"])).all()


def test_reader_follows_the_manifest_only(layouts, tmp_path):
    """Only shards the manifest lists are read (an interrupted run's stray files are not)."""
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(layouts["packed"], out)
    m = manifest(out)
    dropped = m["shards"].pop()
    (out / "manifest.json").write_text(json.dumps(m))
    total = sum(s["samples"] for s in m["shards"])
    assert len(list(read_mtcnn(out))) == total == manifest(layouts["packed"])["totals"]["samples"] - dropped["samples"]


def test_read_anchors_one_sample_per_image(dlib_paths, tmp_path):
    out = tmp_path / "anchors"
    ok(run_inproc(["anchors", "--method", "retinanet", "--annotations", dlib_paths["coco"], "--format", "coco",
                   "--images", dlib_paths["root"], "--out", out, "--shard-size", 3, "--workers", 1,
                   "--no-progress"]))
    samples = list(read_anchors(out))
    images = [im["file_name"] for im in json.loads(dlib_paths["coco"].read_text())["images"]]
    assert sorted(s["meta"]["source"] for s in samples) == sorted(images)
    assert len({s["key"] for s in samples}) == len(samples)
    assert all("image" not in s for s in samples)
    assert all(s["assigned_gt"].dtype == np.int32 for s in samples)


def test_folder_without_manifest_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        list(read_mtcnn(tmp_path))
    with pytest.raises(ConfigError):
        list(read_anchors(tmp_path))


def test_folder_of_another_command_is_a_config_error(layouts):
    with pytest.raises(ConfigError):
        list(read_anchors(layouts["packed"]))


def test_readers_exported_at_top_level():
    code = "import samplegen; samplegen.read_mtcnn; samplegen.read_anchors"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr.splitlines()[-1]
