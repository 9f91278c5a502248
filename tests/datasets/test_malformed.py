"""Every malformation is an InputError naming the file, the exact line and what is wrong.

Each case reads a small hand-made file under ``tests/data/annotations/malformed`` (most are real
lines with one thing broken) and checks ``FILE:LINE: message``; line None means a file-level
error (JSON semantics, where parsed values have no line numbers).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samplegen.datasets import read_dataset
from samplegen.datasets.detections import read_detections
from samplegen.errors import ConfigError, InputError

# (id, format, input under malformed/, file expected in the error (None: the input), line, fragment)
CASES = [
    ("wider-truncated-eof", "wider", "wider_truncated_eof.txt", None, 8, "box line 3 is end of file"),
    ("wider-truncated-next-path", "wider", "wider_truncated_next_path.txt", None, 4, "declares 3 faces"),
    ("wider-count-not-numeric", "wider", "wider_count_not_numeric.txt", None, 5, "face count must be an integer"),
    ("wider-count-negative", "wider", "wider_count_negative.txt", None, 2, "face count must be >= 0"),
    ("wider-box-field-count", "wider", "wider_box_fields.txt", None, 4, "needs 10 fields, got 4"),
    ("wider-box-not-numeric", "wider", "wider_box_not_numeric.txt", None, 3, "box field 3 must be a number, got '1O2'"),
    ("wider-duplicate-image", "wider", "wider_duplicate.txt", None, 7, "first listed at line 1"),
    ("wider-lines-not-multiple-of-4", "wider-lines", "wider_lines_fields.txt", None, 2, "multiple of 4"),
    ("wider-lines-duplicate", "wider-lines", "wider_lines_duplicate.txt", None, 2, "duplicate image"),
    ("coco-bad-json", "coco", "coco_bad_json.json", None, 5, "invalid JSON: Expecting ',' delimiter"),
    ("coco-missing-image", "coco", "coco_missing_image.json", None, None, "annotation id 1039564: image_id 99 is not in images"),
    ("coco-unknown-category", "coco", "coco_unknown_category.json", None, None, "annotation id 1039564: unknown category_id 12"),
    ("coco-bbox-length", "coco", "coco_bbox_length.json", None, None, "annotation id 1039564: bbox must be [x, y, w, h]"),
    ("coco-duplicate-file", "coco", "coco_duplicate_file.json", None, None, "duplicate image '000000000009.jpg'"),
    ("voc-bad-xml", "voc", "voc_bad_xml", "voc_bad_xml/2008_001009.xml", 7, "invalid XML: mismatched tag"),
    ("voc-object-without-bndbox", "voc", "voc_no_bndbox", "voc_no_bndbox/2008_001009.xml", 8, "object 'person' without <bndbox>"),
    ("voc-coordinate-not-numeric", "voc", "voc_bad_coord", "voc_bad_coord/2008_001009.xml", 8, "xmax must be a number, got '22l'"),
    ("voc-list-id-without-xml", "voc", "voc_list/ImageSets/Main/train.txt", None, 3, "no annotation file"),
    ("yolo-row-field-count", "yolo", "yolo_fields/data.yaml", "yolo_fields/labels/train/a.txt", 2, "needs 5 fields, got 4"),
    ("yolo-class-out-of-range", "yolo", "yolo_class/data.yaml", "yolo_class/labels/train/a.txt", 3, "class 2 out of range"),
    ("yolo-unreadable-image", "yolo", "yolo_unreadable/data.yaml", "yolo_unreadable/images/train/a.jpg", None, "cannot read the image size"),
    ("yolo-bad-yaml", "yolo", "yolo_bad_yaml/data.yaml", None, 4, "invalid YAML"),
    ("facepoints-field-count", "facepoints", "facepoints_fields.txt", None, 2, "needs 15 fields, got 14"),
    ("facepoints-not-finite", "facepoints", "facepoints_not_numeric.txt", None, 3, "left_mouth_y must be finite, got 'nan'"),
    ("celeba-count-mismatch", "celeba", "celeba_count/list_bbox_celeba.txt", None, 1, "count line says 4 rows but the file has 3"),
    ("celeba-landmarks-unpaired", "celeba", "celeba_landmarks/list_bbox_celeba.txt", "celeba_landmarks/list_landmarks_celeba.txt", 5, "which has no box row"),
    ("not-utf8", "wider-lines", "not_utf8.txt", None, 3, "not UTF-8"),
]


@pytest.fixture()
def malformed(tests_data: Path) -> Path:
    return tests_data / "annotations" / "malformed"


@pytest.mark.parametrize("fmt, name, error_file, line, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_input(malformed: Path, fmt: str, name: str, error_file: str | None, line: int | None,
                         fragment: str) -> None:
    with pytest.raises(InputError) as info:
        read_dataset(fmt, malformed / name, None)
    err = info.value
    assert Path(err.path) == malformed / (error_file or name)
    assert err.line == line
    assert fragment in err.message
    assert str(err).startswith(f"{err.path}:{line}: " if line else f"{err.path}: ")


def test_path_escaping_the_images_root(malformed: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_dataset("wider", malformed / "wider_escape.txt", tmp_path)
    assert info.value.line == 4 and "escapes the images root" in info.value.message
    read_dataset("wider", malformed / "wider_escape.txt", None)  # no root: nothing is resolved


def test_detections_bad_json_line(malformed: Path) -> None:
    with pytest.raises(InputError) as info:
        read_detections(malformed / "detections_bad_json.jsonl")
    assert info.value.line == 2 and "invalid JSON" in info.value.message


def test_detections_box_of_wrong_length(malformed: Path) -> None:
    with pytest.raises(InputError) as info:
        read_detections(malformed / "detections_box_length.jsonl")
    assert info.value.line == 3 and "box 1 must be 4 or 5 finite numbers" in info.value.message


def test_unknown_format_is_a_config_error(malformed: Path) -> None:
    with pytest.raises(ConfigError, match="unknown annotation format 'pascal'"):
        read_dataset("pascal", malformed / "wider_duplicate.txt", None)


def test_missing_input_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_dataset("coco", tmp_path / "nope.json", None)
    assert info.value.line is None and info.value.message == "no such file"


def test_wider_missing_count_at_end_of_file(tmp_path: Path) -> None:
    f = tmp_path / "gt.txt"
    f.write_text("a.jpg\n1\n1 2 3 4 0 0 0 0 0 0\nb.jpg\n")
    with pytest.raises(InputError) as info:
        read_dataset("wider", f, None)
    assert info.value.line == 5 and "no face count" in info.value.message


def test_folder_given_as_a_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_dataset("wider", tmp_path, None)


def test_images_root_that_is_not_a_folder(malformed: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_dataset("wider", malformed / "wider_duplicate.txt", tmp_path / "typo")
    assert info.value.path == str(tmp_path / "typo") and "not a folder" in info.value.message


def test_coco_and_voc_refuse_escapes_even_with_a_size(tmp_path: Path, tests_data: Path) -> None:
    coco = tmp_path / "a.json"
    coco.write_text('{"images": [{"id": 1, "file_name": "../x.jpg", "width": 5, "height": 5}],'
                    ' "annotations": [], "categories": []}')
    with pytest.raises(InputError, match="escapes the images root"):
        read_dataset("coco", coco, tmp_path)
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "a.xml").write_text(
        "<annotation>\n<filename>/etc/x.jpg</filename>\n<size><width>5</width><height>5</height></size>\n</annotation>\n")
    with pytest.raises(InputError) as info:
        read_dataset("voc", tmp_path / "voc", tmp_path)
    assert info.value.line == 2


# Property: whatever the bytes, a text reader either returns a Dataset or raises InputError.
_TOKENS = st.sampled_from(["a.jpg", "b\\c.jpg", "0", "1", "-1", "2", "10", "3.5", "x", "nan", "1e3", "", " ", "\t"])
_LINES = st.lists(st.lists(_TOKENS, max_size=16).map(" ".join), max_size=12).map("\n".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_LINES, fmt=st.sampled_from(["wider", "wider-lines", "facepoints", "celeba"]))
def test_text_readers_raise_only_input_errors(tmp_path: Path, text: str, fmt: str) -> None:
    f = tmp_path / "list_bbox_celeba.txt"
    f.write_text(text)
    try:
        ds = read_dataset(fmt, f, None)
    except InputError as err:
        assert err.line is None or 1 <= err.line <= text.count("\n") + 2
        return
    for rec in ds.records:
        assert rec.boxes.dtype == np.float32 and rec.boxes.shape[1] == 4


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=3),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(
                         st.sampled_from(["id", "image_id", "category_id", "bbox", "iscrowd", "file_name",
                                          "width", "height", "name", "images", "annotations", "categories"]), c,
                         max_size=6), max_leaves=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_JSON)
def test_coco_reader_raises_only_input_errors(tmp_path: Path, data: object) -> None:
    f = tmp_path / "a.json"
    f.write_text(json.dumps(data))
    try:
        read_dataset("coco", f, None)
    except InputError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(["images", "annotations", "categories"]),
       key=st.sampled_from(["id", "image_id", "category_id", "bbox", "iscrowd", "file_name", "width", "height", "name"]),
       value=_JSON)
def test_coco_reader_with_one_field_replaced(tmp_path: Path, where: str, key: str, value: object) -> None:
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 2]}],
           "categories": [{"id": 3, "name": "face"}]}
    doc[where][0][key] = value
    f = tmp_path / "a.json"
    f.write_text(json.dumps(doc))
    try:
        read_dataset("coco", f, None)
    except InputError:
        pass


_TAGS = st.sampled_from(["object", "name", "bndbox", "xmin", "ymin", "xmax", "ymax", "difficult", "size",
                         "width", "height", "filename", "part"])
_TEXT = st.sampled_from(["", "1", "0", "-3", "2.5", "x", "nan", "face", "1e9", "../a.jpg"])
_ELEMENT = st.recursive(st.tuples(_TAGS, _TEXT, st.just([])),
                        lambda children: st.tuples(_TAGS, _TEXT, st.lists(children, max_size=5)), max_leaves=20)


def _xml(node: tuple) -> str:
    tag, text, children = node
    return f"<{tag}>{text}{''.join(_xml(c) for c in children)}</{tag}>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(children=st.lists(_ELEMENT, max_size=4))
def test_voc_reader_raises_only_input_errors(tmp_path: Path, children: list) -> None:
    (tmp_path / "ann").mkdir(exist_ok=True)
    (tmp_path / "ann" / "a.xml").write_text(_xml(("annotation", "", children)))
    try:
        read_dataset("voc", tmp_path / "ann", tmp_path)
    except InputError:
        pass


def test_voc_list_with_a_repeated_id(tmp_path: Path, tests_data: Path) -> None:
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    xml = tests_data / "annotations" / "voc" / "Annotations" / "2008_001009.xml"
    (tmp_path / "Annotations" / "2008_001009.xml").write_bytes(xml.read_bytes())
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("2008_001009\n2008_001009\n")
    with pytest.raises(InputError) as info:
        read_dataset("voc", tmp_path / "ImageSets" / "Main" / "train.txt", None)
    assert info.value.line == 2 and "first listed at line 1" in info.value.message


def test_empty_voc_and_yolo_folders(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no .xml annotation files"):
        read_dataset("voc", tmp_path, None)
    (tmp_path / "images").mkdir()
    with pytest.raises(InputError, match="no images in"):
        read_dataset("yolo", tmp_path / "images", None)
