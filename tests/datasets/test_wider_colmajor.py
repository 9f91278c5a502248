"""AITTSMD's column-major list ``path x1..xn y1..yn w1..wn h1..hn`` against the official val file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets import read_dataset
from samplegen.datasets.wider import read_wider
from samplegen.datasets.wider_colmajor import read_wider_colmajor
from samplegen.errors import InputError


def test_columns_are_x_then_y_then_w_then_h(tmp_path: Path) -> None:
    f = tmp_path / "list.txt"
    f.write_text("0--Parade\\a.jpg 10 50 20 60 3 4 5 6 \n0--Parade\\b.jpg 0 0 0 0 \n")
    first, zero = read_wider_colmajor(f, None).records
    assert first.key == "0--Parade/a.jpg" and first.image == "0--Parade\\a.jpg"
    np.testing.assert_array_equal(first.boxes, [[10, 20, 13, 25], [50, 60, 54, 66]])
    assert zero.num_boxes == 0 and zero.dropped == {"zero_size": 1}


def test_value_count_not_a_multiple_of_4(tmp_path: Path) -> None:
    f = tmp_path / "list.txt"
    f.write_text("a.jpg 1 2 3 4\nb.jpg 1 2 3\n")
    with pytest.raises(InputError) as info:
        read_wider_colmajor(f, None)
    assert info.value.line == 2 and "multiple of 4" in info.value.message


def test_real_file_equals_the_official_val_boxes(shared_data: Path) -> None:
    """Every image of the column-major val file holds exactly the official val file's boxes
    (usable and invalid=1 together: the list has no invalid flag), in the same image order."""
    colmajor = read_dataset("wider-colmajor", shared_data / "wider" / "aittsmd_wider_face_val_colmajor.txt")
    official = read_wider(shared_data / "wider" / "wider_face_val_bbx_gt.txt", None)
    assert [r.key for r in colmajor.records] == [r.key for r in official.records]
    for mine, theirs in zip(colmajor.records, official.records):
        expected = np.concatenate([theirs.boxes, theirs.ignore])
        assert sorted(map(tuple, mine.boxes.tolist())) == sorted(map(tuple, expected.tolist())), mine.key
    boxes = sum(r.num_boxes for r in colmajor.records)
    dropped = sum(r.dropped.get("zero_size", 0) for r in colmajor.records)
    assert boxes + dropped == 39708  # the official val box-line count (data README)
