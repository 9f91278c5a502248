"""What a file looks like: `sniff` on every real annotation layout, and the ones it must not claim."""
from __future__ import annotations

from pathlib import Path

import pytest

from samplegen.datasets.sniff import sniff

REAL = [
    ("coco128/annotations/instances_train2017.json", "coco"),
    ("coco128/data.yaml", "yolo"),
    ("coco128", "yolo"),
    ("coco128/images/train2017", "yolo"),
    ("coco128/labels/train2017/000000000009.txt", "yolo"),
    ("dlib_faces/derived/instances_train.json", "coco"),
    ("dlib_faces/derived/trainImageList.txt", "facepoints"),
    ("dlib_faces/derived/voc", "voc"),
    ("dlib_faces/derived/voc/2007_007763.xml", "voc"),
    ("dlib_faces/derived/wider_face_train_bbx_gt.txt", "wider"),
    ("facepoint/trainImageList.txt", "facepoints"),
    ("facepoint/testImageList.txt", "facepoints"),
    ("wider/wider_face_train_bbx_gt.txt", "wider"),
    ("wider/wider_face_val_bbx_gt.txt", "wider"),
    ("wider/wider_origin_anno.txt", "wider-lines"),
    ("wider/wider_face_train_first20_float.txt", "wider-lines"),
    ("wider/aittsmd_wider_face_val_colmajor.txt", "wider-colmajor"),
]


@pytest.mark.parametrize("relative, fmt", REAL, ids=[r for r, _ in REAL])
def test_real_files(shared_data: Path, relative: str, fmt: str) -> None:
    guess = sniff(shared_data / relative)
    assert guess is not None and guess.format == fmt, guess


def test_folder_with_data_yaml_points_at_it(shared_data: Path) -> None:
    assert sniff(shared_data / "coco128").path == shared_data / "coco128" / "data.yaml"


@pytest.mark.parametrize("relative, what", [
    ("lists/sierkinhane_imglist_anno_48.txt", "MTCNN training list"),
    ("dlib_faces/training.xml", "dlib imglab XML"),
    ("dlib_faces", "dlib imglab XML"),
])
def test_real_files_samplegen_does_not_read(shared_data: Path, relative: str, what: str) -> None:
    guess = sniff(shared_data / relative)
    assert guess is not None and guess.format is None and what in guess.what


def test_committed_excerpts(tests_data: Path) -> None:
    root = tests_data / "annotations"
    expected = {"celeba/list_bbox_celeba.txt": "celeba", "celeba/list_landmarks_celeba.txt": "celeba",
                "celeba": "celeba", "voc/Annotations": "voc", "voc/ImageSets/Main/face_val.txt": "voc",
                "voc/ImageSets/Main/train.txt": "voc", "wider_val_excerpt.txt": "wider",
                "wider_origin_excerpt.txt": "wider-lines", "yolo/data.yaml": "yolo"}
    assert {name: getattr(sniff(root / name), "format", None) for name in expected} == expected


@pytest.mark.parametrize("text", [
    "",
    "hello world\n",
    "a.jpg 1 2 3\n",                     # 3 values: no layout
    "a.jpg 10 10 5 5 20 20 30 30\n",    # 2 boxes: too few to tell row- from column-major
    "".join(f"i{k}.jpg 1 1 9 9\n" for k in range(18)) + "j.jpg 9 9 1 1\nk.jpg 9 9 1 1\n",  # 10 % unsized
    '{"info": {}}\n',                    # JSON without COCO keys
    "<html><body>",
])
def test_nothing_specific_is_none(tmp_path: Path, text: str) -> None:
    f = tmp_path / "x.txt"
    f.write_text(text)
    assert sniff(f) is None


def test_detections_lines_are_named(tmp_path: Path) -> None:
    f = tmp_path / "dets.jsonl"
    f.write_text('{"image": "a.jpg", "boxes": [[1, 2, 3, 4, 0.5]]}\n')
    guess = sniff(f)
    assert guess.format is None and "--detections" in guess.advice
