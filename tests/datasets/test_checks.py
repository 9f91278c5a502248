"""`read_dataset` around the readers: auto format, hints, short messages, drops, images root."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from samplegen.datasets import READERS, read_dataset
from samplegen.datasets import checks
from samplegen.errors import InputError

COLMAJOR = "wider/aittsmd_wider_face_val_colmajor.txt"


def test_coco_read_as_wider_quotes_80_characters_and_names_coco(shared_data: Path) -> None:
    coco = shared_data / "coco128" / "annotations" / "instances_train2017.json"
    with pytest.raises(InputError) as info:
        read_dataset("wider", coco)
    message = info.value.message
    assert len(str(info.value)) < len(str(coco)) + 300
    assert re.search(r"'\.\.\. \([\d,]{7} characters\)", message)  # a 560 KB first line, quoted by its start
    assert message.endswith("this looks like COCO instances JSON: use --format coco")


@pytest.mark.parametrize("relative, wrong, right", [
    ("facepoint/trainImageList.txt", "wider-lines", "facepoints"),
    ("wider/wider_face_val_bbx_gt.txt", "coco", "wider"),
    ("wider/wider_origin_anno.txt", "wider", "wider-lines"),
    ("dlib_faces/derived/wider_face_train_bbx_gt.txt", "facepoints", "wider"),
])
def test_wrong_format_error_names_the_right_one(shared_data: Path, relative: str, wrong: str, right: str) -> None:
    with pytest.raises(InputError) as info:
        read_dataset(wrong, shared_data / relative)
    assert info.value.message.endswith(f"use --format {right}")


def test_auto_reads_every_real_layout_like_its_reader(shared_data: Path) -> None:
    for relative, fmt in [("coco128/annotations/instances_train2017.json", "coco"),
                          ("dlib_faces/derived/wider_face_train_bbx_gt.txt", "wider"),
                          ("wider/wider_face_train_first20_float.txt", "wider-lines"),
                          (COLMAJOR, "wider-colmajor"),
                          ("dlib_faces/derived/trainImageList.txt", "facepoints"),
                          ("dlib_faces/derived/voc", "voc"),
                          ("coco128", "yolo")]:
        auto = read_dataset("auto", shared_data / relative)
        assert auto.format == fmt
        direct = READERS[fmt](shared_data / (relative + "/data.yaml" if fmt == "yolo" else relative), None)
        assert [r.key for r in auto.records] == [r.key for r in direct.records]


def test_auto_refuses_what_it_cannot_tell(tmp_path: Path, shared_data: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("a.jpg 1 2 3\n")
    with pytest.raises(InputError, match="cannot tell the annotation format.*give --format"):
        read_dataset("auto", f)
    with pytest.raises(InputError, match="MTCNN training list"):
        read_dataset("auto", shared_data / "lists" / "sierkinhane_imglist_anno_48.txt")


def test_colmajor_read_as_wider_lines_is_refused_with_counts_and_cause(shared_data: Path) -> None:
    with pytest.raises(InputError) as info:
        read_dataset("wider-lines", shared_data / COLMAJOR)
    message = info.value.message
    assert message.startswith("28,934 of 39,708 boxes (72.9 %) dropped while reading as wider-lines")
    assert "use --format wider-colmajor" in message and "--allow-drops" in message


def test_allow_drops_reads_and_warns(shared_data: Path, capsys) -> None:
    dataset = read_dataset("wider-lines", shared_data / COLMAJOR, allow_drops=True)
    assert sum(r.num_boxes for r in dataset.records) == 39708 - 28934
    err = capsys.readouterr().err
    assert err.startswith("samplegen: warning: ") and "28,934 of 39,708 boxes" in err and err.count("\n") == 1


def test_real_files_drop_too_little_to_warn(shared_data: Path, capsys) -> None:
    for relative, fmt in [("wider/wider_face_val_bbx_gt.txt", "wider"), ("wider/wider_origin_anno.txt", "wider-lines"),
                          (COLMAJOR, "wider-colmajor")]:
        read_dataset(fmt, shared_data / relative)
    assert capsys.readouterr().err == ""


def test_a_few_percent_warns_without_refusing(tmp_path: Path, capsys) -> None:
    """10 of 100 boxes without size: above the warning share, below the refusal share."""
    f = tmp_path / "list.txt"
    f.write_text("".join(f"i{k}.jpg 1 1 9 9\n" for k in range(90)) + "".join(f"j{k}.jpg 9 9 1 1\n" for k in range(10)))
    read_dataset("wider-lines", f)
    assert "10 of 100 boxes (10.0 %) dropped" in capsys.readouterr().err


def test_small_files_do_not_trip_the_shares(tests_data: Path, capsys) -> None:
    """The DFace excerpt: 1 zero-face placeholder of a few dozen boxes."""
    read_dataset("wider-lines", tests_data / "annotations" / "wider_origin_excerpt.txt")
    assert capsys.readouterr().err == ""


def test_images_root_holding_none_of_the_images(shared_data: Path) -> None:
    wrong = shared_data / "coco128" / "images" / "train2017"
    with pytest.raises(InputError) as info:
        read_dataset("wider", shared_data / "wider" / "wider_face_val_bbx_gt.txt", wrong)
    assert info.value.path == str(wrong)
    assert info.value.message.startswith(
        f"none of the 3,226 images of {shared_data / 'wider' / 'wider_face_val_bbx_gt.txt'} are under this folder "
        f"(first expected: {wrong / '0--Parade' / '0_Parade_marchingband_1_465.jpg'})")


def test_images_root_with_some_of_the_images_reads(shared_data: Path, tmp_path: Path) -> None:
    """1 of the 9 dlib photos present: a partial folder, not a wrong one."""
    shutil.copy(shared_data / "dlib_faces" / "2007_007763.jpg", tmp_path)
    dataset = read_dataset("coco", shared_data / "dlib_faces" / "derived" / "instances_train.json", tmp_path)
    assert len(dataset.records) > 1


def test_nearly_none_of_a_large_set_is_refused(tmp_path: Path) -> None:
    """2 of 300 images present: below MIN_PRESENT_SHARE of the sample."""
    f = tmp_path / "list.txt"
    f.write_text("".join(f"i{k:03d}.jpg 1 1 9 9\n" for k in range(300)))
    root = tmp_path / "images"
    root.mkdir()
    for k in (0, 150):
        (root / f"i{k:03d}.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"only 2 of \d+ images sampled from the 300"):
        read_dataset("wider-lines", f, root)
    assert checks.IMAGE_SAMPLE < 300
