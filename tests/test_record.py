"""record: the reader contract (`check_record`) and where a record's pixels are."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets.paths import image_file
from samplegen.record import Record, check_record


def test_a_valid_record_passes():
    check_record(Record("k", "k.jpg", 10, 10, np.zeros((2, 4), np.float32), np.zeros(2, np.int32),
                        landmarks=np.zeros((2, 5, 2), np.float32), attributes={"blur": np.zeros(2)}))


@pytest.mark.parametrize("change, message", [
    ({"boxes": np.zeros((2, 4), np.float64)}, "boxes must be float32"),
    ({"labels": np.zeros(3, np.int32)}, "labels must be int32"),
    ({"ignore": np.zeros((1, 3), np.float32)}, "ignore must be float32"),
    ({"landmarks": np.zeros((2, 4, 2), np.float32)}, "landmarks"),
    ({"boxes": np.array([[0, 0, np.nan, 1], [0, 0, 1, 1]], np.float32)}, "non-finite"),
    ({"attributes": {"blur": np.zeros(1)}}, "attribute blur"),
])
def test_contract_violations_are_programming_errors(change, message):
    fields = {"boxes": np.zeros((2, 4), np.float32), "labels": np.zeros(2, np.int32)} | change
    with pytest.raises(ValueError, match=message):
        check_record(Record("k", "k.jpg", 10, 10, **fields))


def test_image_file_uses_forward_slashes_and_the_readers_file():
    plain = Record("a/b.jpg", "a\\b.jpg", None, None)
    assert image_file("root", plain) == Path("root/a/b.jpg") and image_file(None, plain) == Path("a/b.jpg")
    listed = Record("0--Parade/x", "0--Parade/x", None, None, file="0--Parade/x.jpg")
    assert image_file("root", listed) == Path("root/0--Parade/x.jpg")
