"""Hostile numbers and structures are one InputError naming the file and line, never a traceback.

Each case is a real first line/entry of the committed excerpts (``tests/data/annotations``) with
one value replaced by what a red-team pass fed the readers (issue 11): values that overflow
float32 (1e39) or are not numbers at all (NaN, Infinity, 1e400), integers of hundreds or thousands
of digits, absurd image sizes, booleans used as COCO ids, JSON nested thousands deep, NUL bytes and
lone surrogates in paths, devices and FIFOs given as annotation files, empty files.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from samplegen.datasets import read_dataset
from samplegen.datasets.detections import read_detections
from samplegen.errors import InputError

WIDER_BOX = "449 330 122 149 0 0 0 0 0 0"  # the first box line of the official train file
WIDER_HEAD = "0--Parade/0_Parade_marchingband_1_849.jpg\n1\n"
POINTS = "84 161 92 169 106.25 107.75 146.75 112.25 125.25 142.75 105.25 157.75 139.75 161.75"


def wider_box(index: int, value: str) -> str:
    fields = WIDER_BOX.split()
    fields[index] = value
    return WIDER_HEAD + " ".join(fields) + "\n"


def coco(images: object = None, annotations: object = None, categories: object = None) -> str:
    """The first image / annotation / category of the committed COCO excerpt, parts replaced."""
    image = {"file_name": "000000000009.jpg", "height": 480, "width": 640, "id": 9}
    ann = {"iscrowd": 0, "image_id": 9, "bbox": [1.08, 187.69, 611.59, 285.84], "category_id": 51, "id": 1038967}
    category = {"supercategory": "kitchen", "id": 51, "name": "bowl"}
    doc = {"images": [image] if images is None else images,
           "annotations": [ann] if annotations is None else annotations,
           "categories": [category] if categories is None else categories}
    return json.dumps(doc)


def coco_image(**changes: object) -> list[dict]:
    return [{"file_name": "000000000009.jpg", "height": 480, "width": 640, "id": 9, **changes}]


def coco_ann(**changes: object) -> list[dict]:
    return [{"iscrowd": 0, "image_id": 9, "bbox": [1.08, 187.69, 611.59, 285.84], "category_id": 51,
             "id": 1038967, **changes}]


DIGITS_400 = "7" * 400

# (id, format, file name, content, line (None: file-level), fragment of the message)
CASES = [
    # numbers in text formats
    ("wider-x-overflows-float32", "wider", "gt.txt", wider_box(0, "1e39"), 3, "box field 1 '1e39' is beyond"),
    ("wider-width-1e400", "wider", "gt.txt", wider_box(2, "1e400"), 3, "box field 3 must be finite, got '1e400'"),
    ("wider-width-nan", "wider", "gt.txt", wider_box(2, "NaN"), 3, "must be finite, got 'NaN'"),
    ("wider-height-infinity", "wider", "gt.txt", wider_box(3, "Infinity"), 3, "must be finite, got 'Infinity'"),
    ("wider-attribute-400-digits", "wider", "gt.txt", wider_box(4, DIGITS_400), 3, "is out of range"),
    ("wider-count-400-digits", "wider", "gt.txt", WIDER_HEAD.replace("\n1\n", f"\n{DIGITS_400}\n") + WIDER_BOX,
     2, "face count '777"),
    ("wider-lines-x2-1e39", "wider-lines", "list.txt", "0--Parade/0_Parade_marchingband_1_849.jpg 448 329 1e39 478\n",
     1, "box field 3 '1e39' is beyond"),
    ("facepoints-point-1e39", "facepoints", "points.txt", "lfw_5590\\a.jpg " + POINTS.replace("106.25", "1e39") + "\n",
     1, "left_eye_x '1e39' is beyond"),
    ("celeba-width-1e30", "celeba", "list_bbox_celeba.txt",
     "1\nimage_id x_1 y_1 width height\n000001.jpg    95  71 1e30 313\n", 3, "'1e30' is beyond"),
    # numbers in COCO (file-level: parsed JSON has no lines; the entry is named)
    ("coco-width-1e30", "coco", "a.json", coco(images=coco_image(width=1e30)), None,
     "image id 9: width 1e+30 is above 1,048,576 px"),
    ("coco-width-400-digits", "coco", "a.json", coco(images=coco_image(width=int(DIGITS_400))), None,
     "width 777777777777... (400 digits) is above"),
    ("coco-width-nan", "coco", "a.json", coco(images=coco_image(width=float("nan"))), None,
     "width must be a non-negative integer, got nan"),
    ("coco-height-infinity", "coco", "a.json", coco(images=coco_image(height=float("inf"))), None,
     "height must be a non-negative integer, got inf"),
    ("coco-height-1e400", "coco", "a.json", coco(images=coco_image(height=1)).replace('"height": 1', '"height": 1e400'),
     None, "height must be a non-negative integer, got inf"),
    ("coco-bbox-1e39", "coco", "a.json", coco(annotations=coco_ann(bbox=[1e39, 187.69, 611.59, 285.84])), None,
     "annotation id 1038967: bbox value '1e+39' is beyond"),
    ("coco-bbox-x-plus-w-overflows", "coco", "a.json", coco(annotations=coco_ann(bbox=[1.6e7, 0, 1.6e7, 10])), None,
     "bbox x + w 3.2e+07 is beyond"),
    ("coco-bbox-400-digit-int", "coco", "a.json", coco(annotations=coco_ann(bbox=[int(DIGITS_400), 0, 5, 5])), None,
     "(400 digits)' is beyond"),
    ("coco-image-id-5000-digits", "coco", "a.json", coco(images=coco_image(id=0)).replace('"id": 0', '"id": ' + "9" * 5000),
     None, "invalid JSON: 'Exceeds the limit (4300 digits)"),
    ("coco-image-id-true", "coco", "a.json", coco(images=coco_image(id=True), annotations=[]), None,
     "image id must be an integer or a string, got True"),
    ("coco-annotation-image-id-true", "coco", "a.json", coco(images=coco_image(id=1), annotations=coco_ann(image_id=True)),
     None, "image_id True is not in images"),
    ("coco-category-id-true", "coco", "a.json",
     coco(annotations=coco_ann(category_id=True), categories=[{"id": 1, "name": "person"}]), None,
     "unknown category_id True"),
    ("coco-category-own-id-true", "coco", "a.json", coco(annotations=[], categories=[{"id": True, "name": "x"}]), None,
     "category id must be an integer, got True"),
    ("coco-iscrowd-true", "coco", "a.json", coco(annotations=coco_ann(iscrowd=True)), None,
     "iscrowd must be 0 or 1, got True"),
    ("coco-category-id-beyond-int64", "coco", "a.json", coco(annotations=[], categories=[{"id": 2 ** 70, "name": "x"}]),
     None, "category id must be an integer, got 1180591620717411303424"),
    # structure
    ("coco-nested-100000-deep", "coco", "a.json", '{"images": ' + "[" * 100_000 + "]" * 100_000 + "}", None,
     "nested too deeply"),
    ("wider-nul-in-path", "wider", "gt.txt", "0--Parade/0_Parade\x00.jpg\n1\n" + WIDER_BOX + "\n", 1, "contains a NUL byte"),
    ("wider-lines-nul-in-path", "wider-lines", "list.txt", "a\x00.jpg 1 2 3 4\n", 1, "contains a NUL byte"),
    ("coco-nul-in-file-name", "coco", "a.json", coco(images=coco_image(file_name="a\x00.jpg"), annotations=[]), None,
     "contains a NUL byte"),
    ("coco-lone-surrogate", "coco", "a.json", coco(images=coco_image(file_name="a.jpg"), annotations=[]).replace(
        "a.jpg", "a\\ud800.jpg"), None, "is not valid UTF-8 text"),
    ("wider-empty-file", "wider", "gt.txt", "", None, "no images"),
    ("wider-blank-file", "wider", "gt.txt", "\n  \n\t\n\n", None, "no images"),
    ("wider-lines-empty-file", "wider-lines", "list.txt", "", None, "no images"),
    ("coco-no-images", "coco", "a.json", coco(images=[], annotations=[]), None, "no images"),
]


@pytest.mark.parametrize("fmt, name, content, line, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_input_error(tmp_path: Path, fmt: str, name: str, content: str, line: int | None,
                                          fragment: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(InputError) as info:
        read_dataset(fmt, path, None)
    err = info.value
    assert Path(err.path) == path and err.line == line
    assert fragment in err.message, err.message
    assert len(err.message) < 400


def test_hostile_detections_lines(tmp_path: Path) -> None:
    path = tmp_path / "dets.jsonl"
    lines = ['{"image": "a.jpg", "boxes": [[1, 2, 30, 40, 0.9]]}',
             '{"image": "b.jpg", "boxes": ' + "[" * 50_000 + "]" * 50_000 + "}"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        read_detections(path)
    assert info.value.line == 2 and "nested too deeply" in info.value.message
    for box, fragment in (("[1e39, 2, 30, 40]", "finite numbers"), (f"[{DIGITS_400}, 2, 30, 40]", "characters)")):
        path.write_text(f'{{"image": "b.jpg", "boxes": [{box}]}}\n')
        with pytest.raises(InputError) as info:
            read_detections(path)
        assert info.value.line == 1 and fragment in info.value.message and len(info.value.message) < 300


def test_dev_zero_and_a_fifo_are_refused_without_reading(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_dataset("wider", Path("/dev/zero"), None)
    assert "not a regular file" in info.value.message
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # opening it for reading would block until a writer appears
    for fmt in ("wider", "coco", "auto"):
        with pytest.raises(InputError) as info:
            read_dataset(fmt, fifo, None)
        assert "not a regular file" in info.value.message or "cannot tell" in info.value.message


def test_nul_in_the_annotation_path_itself(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="NUL byte"):
        read_dataset("wider", str(tmp_path / "a\x00b.txt"), None)


def test_non_utf8_annotation_file_name_reads(tmp_path: Path, tests_data: Path) -> None:
    """A file name that is not UTF-8 (bytes 0xff) is fine as a name: only image paths go into outputs."""
    name = tmp_path / os.fsdecode(b"gt-\xff.txt")
    name.write_bytes((tests_data / "annotations" / "wider_train_excerpt.txt").read_bytes())
    assert len(read_dataset("wider", name, None).records) > 0


def test_non_utf8_image_file_name_on_disk_is_refused_for_yolo(tmp_path: Path, tests_data: Path) -> None:
    source = tests_data / "annotations" / "yolo" / "images" / "train" / "000000000030.png"
    images = tmp_path / "images" / "train"
    images.mkdir(parents=True)
    (images / os.fsdecode(b"\xff.png")).write_bytes(source.read_bytes())
    with pytest.raises(InputError, match="not valid UTF-8"):
        read_dataset("yolo", tmp_path / "images" / "train", None)


def test_data_yaml_nested_thousands_deep(tmp_path: Path) -> None:
    f = tmp_path / "data.yaml"
    f.write_text("train: images/train\nnames: " + "[" * 20_000 + "]" * 20_000 + "\n")
    with pytest.raises(InputError) as info:
        read_dataset("yolo", f, None)
    assert info.value.message == "invalid YAML: nested too deeply"
