"""COCO instances JSON: xywh -> xyxy, crowd -> ignore, contiguous category indices."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets.coco import read_coco
from samplegen.datasets.stats import dataset_stats


@pytest.fixture()
def excerpt(tests_data: Path) -> Path:
    return tests_data / "annotations" / "coco_excerpt.json"


def test_bbox_xywh_becomes_xyxy_with_contiguous_labels(excerpt: Path) -> None:
    ds = read_coco(excerpt, None)
    assert [r.key for r in ds.records] == ["000000000009.jpg", "000000000438.jpg", "000000000250.jpg"]
    rec = ds.records[0]
    assert (rec.width, rec.height) == (640, 480)
    # first annotation of image 9: bbox [1.08, 187.69, 611.59, 285.84], category_id 51 (bowl)
    np.testing.assert_allclose(rec.boxes[0], [1.08, 187.69, 612.67, 473.53], atol=1e-3)
    assert ds.meta["category_ids"][rec.labels[0]] == 51
    assert ds.class_names[rec.labels[0]] == "bowl"
    assert rec.labels[0] == 45  # 51 is the 46th used id (12, 26, 29, 30, 45 are missing below it)


def test_crowd_is_an_ignore_region(excerpt: Path) -> None:
    rec = read_coco(excerpt, None).records[1]
    assert rec.num_boxes == 13  # 14 annotations, one of them crowd
    np.testing.assert_array_equal(rec.ignore, np.array([[39, 48, 442, 351]], np.float32))
    assert rec.ignore_labels.tolist() == rec.labels[:1].tolist()  # both category 60, donut


def test_image_without_annotations_is_kept(excerpt: Path) -> None:
    rec = read_coco(excerpt, None).records[2]
    assert rec.num_boxes == 0 and rec.ignore.shape == (0, 4) and rec.width == 640


def test_category_map_is_sorted_ids(excerpt: Path) -> None:
    ds = read_coco(excerpt, None)
    ids = ds.meta["category_ids"]
    assert ids == sorted(ids) and len(ids) == len(ds.class_names) == 80
    assert 12 not in ids and ids[-1] == 90


def test_iscrowd_absent_means_zero_and_zero_size_is_dropped(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_text(json.dumps({
        "images": [{"id": "x", "file_name": "d\\a.jpg"}],
        "annotations": [{"id": 1, "image_id": "x", "category_id": 7, "bbox": [1, 2, 3, 4]},
                        {"id": 2, "image_id": "x", "category_id": 7, "bbox": [1, 2, 0, 4], "iscrowd": 1}],
        "categories": [{"id": 7, "name": "face"}],
    }))
    ds = read_coco(f, None)
    rec = ds.records[0]
    assert rec.key == "d/a.jpg" and rec.image == "d\\a.jpg" and (rec.width, rec.height) == (None, None)
    np.testing.assert_array_equal(rec.boxes, np.array([[1, 2, 4, 6]], np.float32))
    assert rec.dropped == {"zero_size": 1} and rec.ignore.shape == (0, 4)


def test_real_coco128(shared_data: Path) -> None:
    ds = read_coco(shared_data / "coco128" / "annotations" / "instances_train2017.json", None)
    stats = dataset_stats(ds)
    assert stats["images"] == 128
    assert stats["boxes"] + stats["ignored_boxes"] + sum(stats["dropped_boxes"].values()) == 939
    assert stats["ignored_boxes"] == 10 and stats["boxes"] == 929
    assert stats["empty_images"] == 2
    assert len(ds.class_names) == 80 and len(stats["classes"]) == 80
    assert stats["images_with_size"] == 128
    missing = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
    assert set(ds.meta["category_ids"]) == set(range(1, 91)) - missing
