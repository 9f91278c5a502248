"""``KEY.npz`` is the sparse form of `label_image`'s arrays, and `read_anchors` / `dense_arrays`
rebuild them bit for bit: for every method of the table, on real COCO128 images (a crowd image
and a background image among them), with and without ``--with-max-iou``."""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from samplegen.anchors.methods import METHODS, anchor_config, label_image
from samplegen.datasets import read_dataset
from samplegen.outputs.anchors import dense_arrays, read_anchors
from samplegen.pipelines.anchors import run_anchors
from samplegen.rng import rng_for
from samplegen.writers.npz import npz_bytes

SEED = 5
# 000000000149.jpg has a crowd box, 000000000250.jpg no annotation; the others are the first of COCO128
IMAGES = ("000000000009.jpg", "000000000025.jpg", "000000000030.jpg", "000000000149.jpg", "000000000250.jpg",
          "000000000257.jpg")
NAMES = sorted(m for m in METHODS if m != "ssd")     # "ssd" is an alias of ssd300


@pytest.fixture(scope="module")
def coco(shared_data: Path, tmp_path_factory) -> dict:
    root = shared_data / "coco128"
    data = json.loads((root / "annotations/instances_train2017.json").read_text())
    images = [im for im in data["images"] if im["file_name"] in IMAGES]
    ids = {im["id"] for im in images}
    subset = {**data, "images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids]}
    path = tmp_path_factory.mktemp("coco-npz") / "coco6.json"
    path.write_text(json.dumps(subset))
    records = {r.image: r for r in read_dataset("coco", path, root / "images/train2017").records}
    assert len(records) == len(IMAGES)
    return {"json": path, "images": root / "images/train2017", "records": records,
            "out": tmp_path_factory.mktemp("coco-npz-runs")}


def _run(coco: dict, method: str, with_max_iou: bool) -> Path:
    out = coco["out"] / f"{method}-{with_max_iou}"
    if (out / "manifest.json").is_file():
        return out
    run_anchors(method, annotations=coco["json"], images=coco["images"], out=out, workers=1, seed=SEED,
                shard_size=4, with_max_iou=with_max_iou, environ={})
    return out


def _assert_same(got: dict, want: dict, where: str) -> None:
    assert set(got) == set(want), f"{where}: keys {sorted(set(got) ^ set(want))}"
    for key, value in want.items():
        assert got[key].dtype == value.dtype, f"{where}: {key} dtype {got[key].dtype} != {value.dtype}"
        assert got[key].shape == value.shape and np.array_equal(got[key], value), f"{where}: {key} differs"


@pytest.mark.parametrize("with_max_iou", [False, True])
@pytest.mark.parametrize("method", NAMES)
def test_read_anchors_rebuilds_label_image_bit_for_bit(coco, method, with_max_iou):
    out = _run(coco, method, with_max_iou)
    samples = list(read_anchors(out))
    assert len(samples) == len(IMAGES)
    cfg = anchor_config(method, environ={})
    for sample in samples:
        r = coco["records"][sample["meta"]["source"]]
        want = label_image(r.boxes, r.labels, r.ignore, r.width, r.height, cfg, rng_for(SEED, r.key),
                           with_max_iou=with_max_iou)
        got = {k: v for k, v in sample.items() if k not in ("meta", "key")}
        _assert_same(got, want, f"{method} {r.image}")
        if "max_iou" in want or "pos_max_iou" in want:
            assert ("max_iou" in got) == with_max_iou


def _stored(out: Path) -> list[dict]:
    """Every KEY.npz of a run as plain np.load dicts (what webdataset / Ray Data hand over)."""
    found = []
    for shard in sorted(out.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for member in tar:
                if member.name.endswith(".npz"):
                    with np.load(io.BytesIO(tar.extractfile(member).read()), allow_pickle=False) as npz:
                        found.append({k: npz[k] for k in npz.files})
    return found


def test_stored_npz_is_sparse_and_several_times_smaller(coco):
    """fpn: the npz holds no per-prior array, and is over 5x smaller than the dense arrays deflated
    (the format before the sparse one: every `label_image` array, ``max_iou`` included)."""
    out = _run(coco, "fpn", False)
    cfg = anchor_config("fpn", environ={})
    old_bytes = new_bytes = 0
    for arrays, sample in zip(_stored(out), read_anchors(out), strict=True):
        num = int(arrays["priors_per_level"].sum())
        assert all(v.shape[:1] != (num,) for v in arrays.values()), "a dense per-prior array was stored"
        r = coco["records"][sample["meta"]["source"]]
        dense = label_image(r.boxes, r.labels, r.ignore, r.width, r.height, cfg, rng_for(SEED, r.key))
        old_bytes += len(npz_bytes(dense, compress=True))
        new_bytes += len(npz_bytes(arrays, compress=True))
    assert old_bytes > 5 * new_bytes


def test_dense_arrays_one_liner_outside_the_reader(coco):
    out = _run(coco, "retinanet", False)
    via_reader = list(read_anchors(out))
    for arrays, sample in zip(_stored(out), via_reader, strict=True):
        _assert_same(dense_arrays(arrays), {k: v for k, v in sample.items() if k not in ("meta", "key")},
                     sample["key"])


def test_sparse_read_keeps_the_stored_arrays(coco):
    out = _run(coco, "faster_rcnn", False)
    for sparse, stored in zip(read_anchors(out, dense=False), _stored(out), strict=True):
        assert "assigned_gt" not in sparse and "ignored_runs" in sparse and "sampled_inds" in sparse
        _assert_same({k: v for k, v in sparse.items() if k not in ("meta", "key")}, stored, sparse["key"])
