"""CUHK facial-point lists: ``path x1 x2 y1 y2`` + 5 points, CRLF and backslashes; grouping."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from samplegen.datasets.facepoints import read_facepoints
from samplegen.datasets.stats import dataset_stats


def test_box_order_x1_x2_y1_y2_and_points(tests_data: Path) -> None:
    ds = read_facepoints(tests_data / "annotations" / "facepoints_excerpt.txt", None)
    rec = ds.records[0]
    assert rec.key == "lfw_5590/Aaron_Eckhart_0001.jpg"
    assert rec.image == "lfw_5590\\Aaron_Eckhart_0001.jpg"
    # "84 161 92 169" is left right top bottom -> [84, 92, 161, 169]
    np.testing.assert_array_equal(rec.boxes, np.array([[84, 92, 161, 169]], np.float32))
    assert rec.landmarks.shape == (1, 5, 2)
    np.testing.assert_allclose(rec.landmarks[0, 0], [106.25, 107.75])  # left eye
    np.testing.assert_allclose(rec.landmarks[0, 4], [139.75, 161.75])  # right mouth corner
    assert ds.class_names == ("face",)


def test_lines_of_one_image_are_grouped_in_first_seen_order(tmp_path: Path) -> None:
    f = tmp_path / "list.txt"
    pts = " ".join(["5"] * 10)
    f.write_text(f"a.jpg 0 10 0 10 {pts}\nb.jpg 0 10 0 10 {pts}\na.jpg 1 11 2 12 {pts}\nc.jpg 3 3 0 10 {pts}\n")
    ds = read_facepoints(f, None)
    assert [r.key for r in ds.records] == ["a.jpg", "b.jpg", "c.jpg"]
    np.testing.assert_array_equal(ds.records[0].boxes, [[0, 0, 10, 10], [1, 2, 11, 12]])
    assert ds.records[2].num_boxes == 0 and ds.records[2].dropped == {"zero_size": 1}
    assert ds.records[2].landmarks.shape == (0, 5, 2)


def test_real_train_list_has_10000_faces(shared_data: Path) -> None:
    ds = read_facepoints(shared_data / "facepoint" / "trainImageList.txt", None)
    stats = dataset_stats(ds)
    assert stats["boxes"] == 10000 and stats["landmarks"] == 10000
    assert stats["dropped_boxes"] == {}
    # A.6: boxes are 43-261 px and all points lie inside them
    assert stats["box_size"]["p0"] >= 43 and stats["box_size"]["p100"] <= 261
    for rec in ds.records:
        x, y = rec.landmarks[..., 0], rec.landmarks[..., 1]
        assert ((x >= rec.boxes[:, :1]) & (x <= rec.boxes[:, 2:3]) & (y >= rec.boxes[:, 1:2]) & (y <= rec.boxes[:, 3:])).all()


def test_real_test_list(shared_data: Path) -> None:
    ds = read_facepoints(shared_data / "facepoint" / "testImageList.txt", None)
    assert dataset_stats(ds)["boxes"] == 3466
