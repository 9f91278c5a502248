"""YOLO labels: data.yaml layout, normalised rows -> pixels, background images kept."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets.coco import read_coco
from samplegen.datasets.yolo import read_yolo
from samplegen.datasets.stats import dataset_stats


@pytest.fixture()
def yolo(tests_data: Path) -> Path:
    return tests_data / "annotations" / "yolo"


def test_data_yaml_rows_to_pixels(yolo: Path) -> None:
    ds = read_yolo(yolo / "data.yaml", None)
    assert [r.key for r in ds.records] == ["000000000009.png", "000000000030.png", "000000000250.png"]
    assert len(ds.class_names) == 80 and ds.class_names[45] == "bowl"
    rec = ds.records[0]
    assert (rec.width, rec.height) == (640, 480)
    assert Path(rec.image).is_absolute() and Path(rec.image).name == "000000000009.png"
    # "45 0.479492 0.688771 0.955609 0.5955" in a 640x480 image ~ COCO [1.08, 187.69, 611.59, 285.84]
    np.testing.assert_allclose(rec.boxes[0], [1.08, 187.69, 612.67, 473.53], atol=0.02)
    assert rec.labels.tolist() == [45, 45, 50, 45, 49, 49, 49, 49]


def test_empty_and_missing_label_files_are_background(yolo: Path) -> None:
    ds = read_yolo(yolo / "data.yaml", None)
    assert [r.num_boxes for r in ds.records[1:]] == [0, 0]
    assert (ds.records[1].width, ds.records[1].height) == (640, 428)


def test_images_folder_input_and_ignored_root(yolo: Path) -> None:
    ds = read_yolo(yolo / "images" / "train", Path("/nonexistent"))
    assert len(ds.records) == 3
    assert ds.class_names == tuple(str(i) for i in range(51))  # up to the largest index seen


def test_names_as_list(tmp_path: Path, yolo: Path) -> None:
    root = tmp_path / "d"
    (root / "images" / "a").mkdir(parents=True)
    (root / "labels" / "a").mkdir(parents=True)
    png = yolo / "images" / "train" / "000000000030.png"
    (root / "images" / "a" / "x.png").write_bytes(png.read_bytes())
    (root / "labels" / "a" / "x.txt").write_text("1 0.5 0.5 0.25 0.5\n0 0.5 0.5 0 0.5\n")
    (root / "data.yaml").write_text("path: .\ntrain: images/a\nnames: [cat, dog]\n")
    rec = read_yolo(root / "data.yaml", None).records[0]
    np.testing.assert_allclose(rec.boxes, [[240, 107, 400, 321]])
    assert rec.labels.tolist() == [1] and rec.dropped == {"zero_size": 1}


def test_real_coco128_yolo(shared_data: Path) -> None:
    ds = read_yolo(shared_data / "coco128" / "data.yaml", None)
    stats = dataset_stats(ds)
    assert stats["images"] == 128 and stats["empty_images"] == 2 and stats["boxes"] == 929
    assert len(ds.class_names) == 80 and stats["images_with_size"] == 128


def test_real_yolo_agrees_with_coco_json(shared_data: Path) -> None:
    yolo = {r.key: r for r in read_yolo(shared_data / "coco128" / "data.yaml", None).records}
    coco = read_coco(shared_data / "coco128" / "annotations" / "instances_train2017.json", None)
    for rec in coco.records:
        other = yolo[rec.key]
        assert (other.width, other.height) == (rec.width, rec.height)
        assert sorted(other.labels.tolist()) == sorted(rec.labels.tolist())
        # every COCO box has a YOLO box of the same class within rounding (labels have 6 decimals)
        for box, label in zip(rec.boxes, rec.labels):
            distance = np.abs(other.boxes - box).max(axis=1)
            distance[other.labels != label] = np.inf
            assert distance.min() < 0.05, (rec.key, box)


def test_nested_images_pair_with_nested_labels(tmp_path: Path, yolo: Path) -> None:
    png = (yolo / "images" / "train" / "000000000030.png").read_bytes()
    for sub in ("b", "a/deep"):
        (tmp_path / "images" / sub).mkdir(parents=True)
        (tmp_path / "labels" / sub).mkdir(parents=True)
        (tmp_path / "images" / sub / "x.png").write_bytes(png)
    (tmp_path / "labels" / "a" / "deep" / "x.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    ds = read_yolo(tmp_path / "images", None)
    assert [(r.key, r.num_boxes) for r in ds.records] == [("a/deep/x.png", 1), ("b/x.png", 0)]
    assert ds.meta["labels_dir"] == str(tmp_path / "labels")
