"""CelebA box list with the in-the-wild landmark list beside it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from samplegen.datasets.celeba import read_celeba


def test_boxes_and_landmarks(tests_data: Path) -> None:
    ds = read_celeba(tests_data / "annotations" / "celeba" / "list_bbox_celeba.txt", None)
    assert [r.key for r in ds.records] == ["000001.jpg", "000002.jpg", "000003.jpg", "101283.jpg"]
    rec = ds.records[0]
    np.testing.assert_array_equal(rec.boxes, np.array([[95, 71, 321, 384]], np.float32))
    np.testing.assert_array_equal(rec.landmarks[0], [[165, 184], [244, 176], [196, 249], [194, 271], [266, 260]])
    assert ds.class_names == ("face",)


def test_known_zero_size_row_is_dropped_with_its_landmarks(tests_data: Path) -> None:
    rec = read_celeba(tests_data / "annotations" / "celeba", None).records[3]
    assert rec.num_boxes == 0 and rec.dropped == {"zero_size": 1}
    assert rec.landmarks.shape == (0, 5, 2)


def test_without_landmarks_file(tests_data: Path) -> None:
    ds = read_celeba(tests_data / "annotations" / "celeba_nolandmarks" / "list_bbox_celeba.txt", None)
    assert all(r.landmarks is None for r in ds.records)
    assert ds.meta["landmarks_file"] is None


def test_repeated_image_rows_are_grouped(tmp_path: Path) -> None:
    (tmp_path / "list_bbox_celeba.txt").write_text(
        "3\nimage_id x_1 y_1 width height\na.jpg 1 2 3 4\nb.jpg 1 2 3 4\na.jpg 5 6 7 8\n")
    (tmp_path / "list_landmarks_celeba.txt").write_text(
        "3\nheader\na.jpg 1 1 1 1 1 1 1 1 1 1\nb.jpg 2 2 2 2 2 2 2 2 2 2\na.jpg 3 3 3 3 3 3 3 3 3 3\n")
    ds = read_celeba(tmp_path / "list_bbox_celeba.txt", None)
    assert [r.num_boxes for r in ds.records] == [2, 1]
    assert ds.records[0].landmarks[:, 0, 0].tolist() == [1, 3]
