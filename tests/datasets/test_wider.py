"""WIDER FACE block format: conventions on real excerpts, then the full official files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets import read_dataset
from samplegen.datasets.wider import read_wider
from samplegen.datasets.stats import dataset_stats


@pytest.fixture()
def train_excerpt(tests_data: Path) -> Path:
    return tests_data / "annotations" / "wider_train_excerpt.txt"


def test_boxes_are_x1_y1_x1_plus_w_y1_plus_h(train_excerpt: Path) -> None:
    ds = read_wider(train_excerpt, None)
    first = ds.records[0]
    assert first.key == "0--Parade/0_Parade_marchingband_1_849.jpg"
    # "449 330 122 149": no -1 on x2/y2 (reference-semantics A.1)
    np.testing.assert_array_equal(first.boxes, np.array([[449, 330, 571, 479]], np.float32))
    assert first.labels.tolist() == [0]
    assert first.width is None and first.height is None
    assert ds.class_names == ("face",)


def test_zero_face_block_with_placeholder_line(train_excerpt: Path) -> None:
    ds = read_wider(train_excerpt, None)
    assert [r.key for r in ds.records][2] == "0--Parade/0_Parade_Parade_0_452.jpg"
    zero = ds.records[2]
    assert zero.num_boxes == 0 and zero.ignore.shape == (0, 4)
    assert zero.dropped == {"zero_size": 1}  # the placeholder line is counted, never a face
    assert ds.meta["zero_face_images"] == ["0--Parade/0_Parade_Parade_0_452.jpg"]
    assert len(ds.records) == 5  # the block after the placeholder is not desynchronised


def test_invalid_boxes_become_ignore_regions_with_attributes_kept(train_excerpt: Path) -> None:
    rec = read_wider(train_excerpt, None).records[3]
    assert rec.num_boxes == 4
    np.testing.assert_array_equal(rec.ignore, np.array([[813, 268, 817, 272], [849, 266, 853, 269]], np.float32))
    assert rec.ignore_labels.tolist() == [0, 0]
    # line "171 200 13 19 2 0 1 0 1 0": blur expression illumination invalid occlusion pose
    assert rec.attributes["blur"].tolist() == [2, 1, 2, 0]
    assert rec.attributes["illumination"].tolist() == [1, 1, 0, 1]
    assert rec.attributes["occlusion"].tolist() == [1, 0, 1, 0]
    assert rec.attributes["invalid"].tolist() == [0, 0, 0, 0]


def test_zero_width_box_is_dropped(train_excerpt: Path) -> None:
    rec = read_wider(train_excerpt, None).records[4]
    assert rec.dropped == {"zero_size": 1}
    assert rec.num_boxes == 2


def test_zero_size_wins_over_invalid(tmp_path: Path) -> None:
    f = tmp_path / "gt.txt"
    f.write_text("a.jpg\n2\n10 10 0 5 0 0 0 1 0 0 \n10 10 5 5 0 0 0 1 0 0 \n")
    rec = read_wider(f, None).records[0]
    assert rec.dropped == {"zero_size": 1} and rec.ignore.shape == (1, 4) and rec.num_boxes == 0


def test_older_zero_face_convention(tests_data: Path) -> None:
    ds = read_wider(tests_data / "annotations" / "wider_val_excerpt.txt", None)
    assert [r.num_boxes for r in ds.records][1] == 0
    assert ds.records[1].dropped == {"zero_size": 1}
    assert ds.meta["zero_face_images"] == ["0--Parade/0_Parade_Parade_0_275.jpg"]
    assert ds.records[2].num_boxes + ds.records[2].ignore.shape[0] == 13


def test_zero_count_without_placeholder_line(tmp_path: Path) -> None:
    f = tmp_path / "gt.txt"
    f.write_text("a.jpg\n0\nb.jpg\n1\n1 2 3 4 0 0 0 0 0 0\n")
    ds = read_wider(f, None)
    assert [r.key for r in ds.records] == ["a.jpg", "b.jpg"]
    assert ds.records[0].dropped == {} and ds.meta["zero_face_images"] == ["a.jpg"]


def test_backslash_path_key_and_size_from_header(tmp_path: Path, tests_data: Path) -> None:
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    png = tests_data / "annotations" / "yolo" / "images" / "train" / "000000000030.png"
    (images / "sub" / "x.png").write_bytes(png.read_bytes())
    f = tmp_path / "gt.txt"
    f.write_text("sub\\x.png\n1\n1 2 3 4 0 0 0 0 0 0\nsub\\missing.jpg\n0\n")
    ds = read_wider(f, images)
    assert ds.records[0].key == "sub/x.png" and ds.records[0].image == "sub\\x.png"
    assert (ds.records[0].width, ds.records[0].height) == (640, 428)
    assert (ds.records[1].width, ds.records[1].height) == (None, None)


def test_read_dataset_dispatches(train_excerpt: Path) -> None:
    assert read_dataset("wider", train_excerpt, None).format == "wider"


def test_real_train_file_counts(wider_train) -> None:
    """README/A.1: 12,880 images, 159,424 box lines, 31 with w or h <= 0, 2,399 invalid.

    The 159,424 lines include the 4 placeholder lines of zero-face images (159,420 face lines
    + 4), and the 31 zero-size boxes are 27 real ones plus those 4 placeholders; no train box is
    both zero-size and invalid.
    """
    ds = wider_train
    stats = dataset_stats(ds)
    assert stats["images"] == 12880
    assert stats["boxes"] + stats["ignored_boxes"] + sum(stats["dropped_boxes"].values()) == 159424
    assert stats["dropped_boxes"] == {"zero_size": 31}
    assert stats["ignored_boxes"] == 2399
    assert stats["boxes"] == 156994
    assert len(ds.meta["zero_face_images"]) == 4
    assert stats["empty_images"] == 4
    assert ds.meta["zero_face_images"][0] == "0--Parade/0_Parade_Parade_0_452.jpg"


def test_real_val_file_counts(shared_data: Path) -> None:
    """Val uses the older convention (count 1 + all-zero line) for its 4 zero-face images.

    The published 39,708 counts those 4 all-zero lines (39,704 face lines + 4): they are read as
    zero-size box lines, so they are dropped (never faces) and still add up to 39,708.
    """
    ds = read_wider(shared_data / "wider" / "wider_face_val_bbx_gt.txt", None)
    stats = dataset_stats(ds)
    assert stats["images"] == 3226
    assert stats["boxes"] + stats["ignored_boxes"] + sum(stats["dropped_boxes"].values()) == 39708
    assert stats["dropped_boxes"] == {"zero_size": 11}
    assert stats["ignored_boxes"] == 585
    assert len(ds.meta["zero_face_images"]) == 4


def test_real_first20_file_matches_the_full_file(shared_data: Path, wider_train) -> None:
    full = wider_train.records[:20]
    first20 = read_wider(shared_data / "wider" / "wider_face_train_bbx_gt_first20.txt", None).records
    assert [r.key for r in first20] == [r.key for r in full]
    for a, b in zip(first20, full):
        np.testing.assert_array_equal(a.boxes, b.boxes)


def test_real_dlib_derived_forms_agree(shared_data: Path) -> None:
    """The same human-drawn faces as WIDER, facial-point, COCO and VOC files give the same boxes.

    Conversion rules: WIDER ``x y w h`` -> ``[x, y, x+w, y+h]``; facial points ``x1 x2 y1 y2`` as
    given; COCO ``[x, y, w, h]`` like WIDER; VOC 1-based inclusive -> ``[xmin-1, ymin-1, xmax, ymax]``.
    """
    from samplegen.datasets.coco import read_coco
    from samplegen.datasets.facepoints import read_facepoints
    from samplegen.datasets.voc import read_voc

    derived = shared_data / "dlib_faces" / "derived"
    forms = {
        "wider": [read_wider(derived / f"wider_face_{s}_bbx_gt.txt", None) for s in ("train", "val")],
        "facepoints": [read_facepoints(derived / f"{s}ImageList.txt", None) for s in ("train", "val")],
        "coco": [read_coco(derived / f"instances_{s}.json", None) for s in ("train", "val")],
        "voc": [read_voc(derived / "voc", None)],
    }
    boxes = {name: {r.key: r.boxes for ds in parts for r in ds.records} for name, parts in forms.items()}
    assert len(boxes["wider"]) == 9 and sum(len(b) for b in boxes["wider"].values()) == 43
    for name in ("facepoints", "coco", "voc"):
        assert boxes[name].keys() == boxes["wider"].keys(), name
        for key, ref in boxes["wider"].items():
            np.testing.assert_array_equal(boxes[name][key], ref, err_msg=f"{name} {key}")
    # the facial-point form also carries 5 points per face, inside its box
    for ds in forms["facepoints"]:
        for rec in ds.records:
            assert rec.landmarks.shape == (rec.num_boxes, 5, 2)
