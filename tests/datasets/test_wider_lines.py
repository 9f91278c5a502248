"""One-line WIDER variants: DFace (ints, .jpg, ``0 0 0 0``) and AITTSMD (floats, no extension)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from samplegen.datasets.wider import read_wider
from samplegen.datasets.wider_lines import read_wider_lines


def test_dface_ints_with_extension_and_zero_face_line(tests_data: Path) -> None:
    ds = read_wider_lines(tests_data / "annotations" / "wider_origin_excerpt.txt", None)
    assert ds.format == "wider-lines" and len(ds.records) == 4
    first = ds.records[0]
    assert first.key == "0--Parade/0_Parade_marchingband_1_849.jpg"
    np.testing.assert_array_equal(first.boxes, np.array([[448, 329, 570, 478]], np.float32))
    assert ds.records[2].num_boxes == 21
    zero = ds.records[3]
    assert zero.key == "0--Parade/0_Parade_Parade_0_452.jpg"
    assert zero.num_boxes == 0 and zero.dropped == {"zero_size": 1}


def test_aittsmd_floats_without_extension(tests_data: Path) -> None:
    ds = read_wider_lines(tests_data / "annotations" / "wider_float_excerpt.txt", None)
    first = ds.records[0]
    assert first.key == first.image == "0--Parade/0_Parade_marchingband_1_849"
    np.testing.assert_allclose(first.boxes, [[448.51, 329.63, 570.09, 478.23]], rtol=0, atol=1e-4)


def test_extension_is_appended_only_to_find_the_image(tmp_path: Path, tests_data: Path) -> None:
    png = tests_data / "annotations" / "yolo" / "images" / "train" / "000000000030.png"
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(png.read_bytes())  # header decides, not the name
    f = tmp_path / "list.txt"
    f.write_text("a 1.5 2.5 10.0 20.0 \n")
    rec = read_wider_lines(f, tmp_path / "img").records[0]
    assert rec.key == "a" and (rec.width, rec.height) == (640, 428)


def test_image_without_faces_has_no_values(tmp_path: Path) -> None:
    f = tmp_path / "list.txt"
    f.write_text("a.jpg\nb.jpg 1 2 3 4\n")
    ds = read_wider_lines(f, None)
    assert [r.num_boxes for r in ds.records] == [0, 1]


def test_real_dface_file(shared_data: Path, wider_train) -> None:
    ds = read_wider_lines(shared_data / "wider" / "wider_origin_anno.txt", None)
    assert len(ds.records) == 12880
    # same image order as the official file; 4 zero-face images written "0 0 0 0"
    official = wider_train
    assert {r.key for r in ds.records} == {r.key for r in official.records}
    zero = [r.key for r in ds.records if r.num_boxes == 0 and r.dropped]
    assert set(official.meta["zero_face_images"]) <= set(zero)


def test_real_float_file_is_close_to_the_official_first20(shared_data: Path) -> None:
    floats = read_wider_lines(shared_data / "wider" / "wider_face_train_first20_float.txt", None).records
    official = read_wider(shared_data / "wider" / "wider_face_train_bbx_gt_first20.txt", None).records
    assert [r.key + ".jpg" for r in floats] == [r.key for r in official]
    worst = []
    for a, b in zip(floats, official):
        both = np.concatenate([b.boxes, b.ignore])
        assert a.num_boxes == both.shape[0]
        # distance of every float box to its nearest integer box (max over the 4 coordinates)
        worst.extend(np.abs(a.boxes[:, None, :] - both[None, :, :]).max(axis=2).min(axis=1))
    # legacy float boxes differ from the integer release by about a pixel, a few by more
    # (A.1: 905 boxes over 1 px in train; AITTSMD #229); measured max here is 4.95 px
    worst = np.array(worst)
    assert worst.max() < 5 and (worst < 1).mean() > 0.99
