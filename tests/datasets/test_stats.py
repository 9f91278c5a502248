"""`dataset_stats`: every box counted once, percentiles of sqrt(w*h), JSON-serialisable."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from samplegen.datasets.celeba import read_celeba
from samplegen.datasets.wider import read_wider
from samplegen.record import Dataset, Record
from samplegen.datasets.stats import dataset_stats

KEYS = {"format", "source", "images", "empty_images", "boxes", "ignored_boxes", "dropped_boxes", "classes",
        "box_size", "images_with_size", "landmarks"}


def _record(key: str, boxes: list, labels: list, **kw) -> Record:
    return Record(key=key, image=key, width=kw.pop("width", None), height=kw.pop("height", None),
                  boxes=np.array(boxes, np.float32).reshape(-1, 4), labels=np.array(labels, np.int32), **kw)


def test_hand_checked_counts_and_percentiles() -> None:
    records = [
        _record("a", [[0, 0, 4, 9], [0, 0, 10, 10]], [0, 1], width=20, height=20),  # sides 6 and 10
        _record("b", [], [], ignore=np.zeros((2, 4), np.float32), ignore_labels=np.zeros(2, np.int32),
                dropped={"zero_size": 3}),
        _record("c", [[1, 1, 3, 3]], [1], dropped={"zero_size": 1, "other": 2},
                landmarks=np.zeros((1, 5, 2), np.float32)),  # side 2
    ]
    stats = dataset_stats(Dataset("test", "x.txt", records, ("cat", "dog")))
    assert set(stats) == KEYS
    assert stats["images"] == 3 and stats["empty_images"] == 1
    assert stats["boxes"] == 3 and stats["ignored_boxes"] == 2
    assert stats["dropped_boxes"] == {"other": 2, "zero_size": 4}
    assert stats["classes"] == {"cat": 1, "dog": 2}
    # sides [2, 6, 10]: linear percentiles, p25 = 4, p5 = 2.4, p95 = 9.6
    assert stats["box_size"] == {"p0": 2.0, "p5": 2.4, "p25": 4.0, "p50": 6.0, "p75": 8.0, "p95": 9.6, "p100": 10.0}
    assert stats["images_with_size"] == 1 and stats["landmarks"] == 1
    json.dumps(stats)


def test_no_boxes_gives_null_box_size() -> None:
    stats = dataset_stats(Dataset("test", "x", [_record("a", [], [])], ("face",)))
    assert stats["box_size"] is None and stats["classes"] == {"face": 0} and stats["empty_images"] == 1
    assert dataset_stats(Dataset("test", "x", [], ()))["images"] == 0


def test_wider_excerpt_every_line_counted_once(tests_data: Path) -> None:
    stats = dataset_stats(read_wider(tests_data / "annotations" / "wider_train_excerpt.txt", None))
    # box lines in the excerpt: 1 + 1 + 1 placeholder + 6 + 3 = 12
    assert stats["boxes"] + stats["ignored_boxes"] + sum(stats["dropped_boxes"].values()) == 12
    assert stats["ignored_boxes"] == 2 and stats["dropped_boxes"] == {"zero_size": 2}
    assert json.loads(json.dumps(stats)) == stats


def test_landmark_count(tests_data: Path) -> None:
    stats = dataset_stats(read_celeba(tests_data / "annotations" / "celeba", None))
    assert stats["landmarks"] == 3 and stats["boxes"] == 3 and stats["dropped_boxes"] == {"zero_size": 1}


def test_classes_with_the_same_name_are_summed() -> None:
    records = [_record("a", [[0, 0, 1, 1], [0, 0, 2, 2]], [0, 1])]
    assert dataset_stats(Dataset("coco", "x", records, ("face", "face")))["classes"] == {"face": 2}
