"""Annotation text is read a block at a time (`iter_lines`), never whole: the lines, their ends
and the line number of a bad byte are those of the whole file split at once."""
from __future__ import annotations

import random

import pytest

from samplegen.datasets import lines as lines_module
from samplegen.datasets.lines import LineWindow, iter_lines
from samplegen.datasets.wider import read_wider
from samplegen.errors import InputError
from tests.test_record_table import assert_same

PIECES = ["a", "b", " ", "\n", "\r", "\r\n", "é", "€", "𝄞", "\x0c", "\u2028"]


def whole_file(data: bytes) -> list[str]:
    """The rule, stated on the whole text: only \\n, \\r\\n and \\r end a line."""
    text = data.decode("utf-8-sig")
    split = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return split[:-1] if split and split[-1] == "" else split


@pytest.mark.parametrize("block", [1, 2, 3, 5, 64])
def test_lines_read_in_blocks_are_the_whole_files_lines(tmp_path, block):
    rng = random.Random(block)
    path = tmp_path / "f.txt"
    for _ in range(400):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 40)))
        data = (b"\xef\xbb\xbf" if rng.random() < 0.2 else b"") + text.encode()
        path.write_bytes(data)
        assert list(iter_lines(path, block)) == whole_file(data), data


@pytest.mark.parametrize("block", [1, 2, 7, 64])
def test_a_bad_byte_names_its_line_whatever_block_it_falls_in(tmp_path, block):
    rng = random.Random(block)
    path = tmp_path / "f.txt"
    checked = 0
    for _ in range(300):
        raw = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30))).encode()
        cut = rng.randint(0, len(raw))
        data = raw[:cut] + b"\xff" + raw[cut:]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line, byte = data[:exc.start].count(b"\n") + 1, data[exc.start]
        path.write_bytes(data)
        with pytest.raises(InputError) as raised:
            list(iter_lines(path, block))
        assert raised.value.line == line and f"byte 0x{byte:02x}" in str(raised.value)
        checked += 1
    assert checked == 300


def test_a_line_window_holds_only_what_was_not_forgotten():
    window = LineWindow(iter(["l1", "l2", "l3"]))
    assert window.has(1) and window[0] == "l1" and window[1] == "l2"
    window.forget(1)
    with pytest.raises(IndexError):
        window[0]
    assert window[2] == "l3" and not window.has(3)
    with pytest.raises(IndexError):
        window[3]


def test_wider_read_a_few_bytes_at_a_time_is_the_same_dataset(monkeypatch, shared_data):
    path = shared_data / "wider" / "wider_face_train_bbx_gt_first20.txt"
    whole = read_wider(path, None)
    monkeypatch.setattr(lines_module, "LINE_BLOCK", 7)
    streamed = read_wider(path, None)
    assert len(streamed.records) == len(whole.records) == 20
    for got, want in zip(streamed.records, whole.records):
        assert_same(got, want)
    assert streamed.meta == whole.meta
