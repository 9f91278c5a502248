"""Pascal VOC XML: 1-based inclusive -> continuous, difficult -> ignore, direct bndbox only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets.voc import read_voc


@pytest.fixture()
def voc(tests_data: Path) -> Path:
    return tests_data / "annotations" / "voc"


def test_folder_of_xml_in_sorted_order(voc: Path) -> None:
    ds = read_voc(voc / "Annotations", None)
    assert [r.key for r in ds.records] == ["2008_001009.jpg", "2009_004587.jpg", "handmade_person.jpg"]
    assert ds.class_names == ("dog", "face", "person")  # sorted set of names over the dataset
    rec = ds.records[0]
    assert (rec.width, rec.height) == (360, 480)
    # <xmin>146</xmin><ymin>80</ymin><xmax>221</xmax><ymax>155</ymax> -> x1-1, y1-1, x2, y2
    np.testing.assert_array_equal(rec.boxes[0], np.array([145, 79, 221, 155], np.float32))
    assert rec.labels.tolist() == [1, 1]


def test_floats_difficult_parts_and_degenerate_box(voc: Path) -> None:
    rec = read_voc(voc / "Annotations", None).records[2]
    # float coordinates; only the object's own bndbox, not the <part> head box
    np.testing.assert_array_equal(rec.boxes, np.array([[99.5, 50, 220, 300.25]], np.float32))
    assert rec.labels.tolist() == [2]
    np.testing.assert_array_equal(rec.ignore, np.array([[0, 0, 40, 30]], np.float32))
    assert rec.ignore_labels.tolist() == [0]
    assert rec.dropped == {"zero_size": 1}  # xmin 10, xmax 9 -> [9, 9, 9, 20]
    assert (rec.width, rec.height) == (None, None)  # no <size>, no images root


def test_imagesets_list_file(voc: Path) -> None:
    ds = read_voc(voc / "ImageSets" / "Main" / "train.txt", None)
    assert [r.key for r in ds.records] == ["2008_001009.jpg", "handmade_person.jpg"]


def test_class_specific_list_uses_the_first_token(voc: Path) -> None:
    ds = read_voc(voc / "ImageSets" / "Main" / "face_val.txt", None)
    assert [r.key for r in ds.records] == ["2008_001009.jpg", "2009_004587.jpg"]


def test_size_from_header_when_missing(tmp_path: Path, voc: Path, tests_data: Path) -> None:
    png = tests_data / "annotations" / "yolo" / "images" / "train" / "000000000030.png"
    (tmp_path / "ann").mkdir()
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "handmade_person.jpg").write_bytes(png.read_bytes())
    (tmp_path / "ann" / "h.xml").write_bytes((voc / "Annotations" / "handmade_person.xml").read_bytes())
    rec = read_voc(tmp_path / "ann", tmp_path / "img").records[0]
    assert (rec.width, rec.height) == (640, 428)


def test_real_dlib_voc(shared_data: Path) -> None:
    ds = read_voc(shared_data / "dlib_faces" / "derived" / "voc", shared_data / "dlib_faces")
    assert len(ds.records) == 9 and ds.class_names == ("face",)
    assert sum(r.num_boxes for r in ds.records) == 43
    assert all(r.width and r.height for r in ds.records)
