"""samplegen.detect.grid: PNet score-map cells -> candidate windows, in the references' order."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.detect.config import GridConfig
from samplegen.detect.grid import pnet_boxes_single_level

IPAZC = GridConfig(stride=2, cell=12, start_offset=1, rounding="fix", scan_order="column_major", flip_single_hit=True)
AITTSMD = GridConfig(stride=2, cell=12, start_offset=0, rounding="round", scan_order="row_major",
                     flip_single_hit=False)


def _maps(scores):
    score_map = np.array(scores, np.float32)
    h, w = score_map.shape
    # Offsets encode the cell: dx1 = 0.1 * column, dy1 = 0.1 * row.
    reg = np.zeros((h, w, 4), np.float32)
    reg[:, :, 0] = 0.1 * np.arange(w)[None, :]
    reg[:, :, 1] = 0.1 * np.arange(h)[:, None]
    return score_map, reg


def test_ipazc_windows_and_column_major_order():
    score_map, reg = _maps([[0.9, 0.1, 0.7], [0.8, 0.6, 0.2]])
    boxes = pnet_boxes_single_level(score_map, reg, 0.5, 0.6, True, IPAZC)
    # Column-major: (row 0, col 0), (1, 0), (1, 1) [0.6 >= 0.6 inclusive], (0, 2).
    assert boxes[:, 5].round(6).tolist() == [0.0, 0.0, 0.1, 0.2]
    assert boxes[:, 6].round(6).tolist() == [0.0, 0.1, 0.1, 0.0]
    # Cell (row 1, col 1) at scale 0.5: x1 = fix((2*1 + 1) / 0.5) = 6, x2 = fix((2*1 + 12) / 0.5) = 28.
    assert boxes[2, :4].tolist() == [6.0, 6.0, 28.0, 28.0]
    assert boxes[:, 4].tolist() == [np.float32(s) for s in (0.9, 0.8, 0.6, 0.7)]


def test_aittsmd_windows_and_row_major_order():
    score_map, reg = _maps([[0.9, 0.1, 0.7], [0.8, 0.6, 0.2]])
    boxes = pnet_boxes_single_level(score_map, reg, 0.3, 0.6, False, AITTSMD)
    # Strict threshold drops 0.6; row-major: (0, 0), (0, 2), (1, 0).
    assert boxes[:, 4].tolist() == [np.float32(s) for s in (0.9, 0.7, 0.8)]
    # Cell (0, 2) at scale 0.3: x1 = round(4 / 0.3) = 13, x2 = round(16 / 0.3) = 53, y2 = round(40.0) = 40.
    assert boxes[1, :4].tolist() == [13.0, 0.0, 53.0, 40.0]


def test_single_hit_reads_the_mirrored_column_as_ipazc_does():
    score_map, reg = _maps([[0.1, 0.9, 0.1, 0.1]])
    boxes = pnet_boxes_single_level(score_map, reg, 1.0, 0.6, True, IPAZC)
    # One hit at column 1 of 4: regression from column 4 - 1 - 1 = 2.
    assert len(boxes) == 1 and boxes[0, 5] == np.float32(0.2)
    boxes = pnet_boxes_single_level(score_map, reg, 1.0, 0.6, True, AITTSMD)
    assert boxes[0, 5] == np.float32(0.1)


def test_threshold_is_compared_in_float32():
    # float32(0.6) > 0.6: a score stored as float32(0.6) passes ">= 0.6" as in the references.
    score_map, reg = _maps([[0.6]])
    assert len(pnet_boxes_single_level(score_map, reg, 1.0, 0.6, True, IPAZC)) == 1


def test_no_passing_cell_gives_an_empty_array():
    score_map, reg = _maps([[0.1, 0.2]])
    assert pnet_boxes_single_level(score_map, reg, 1.0, 0.6, True, IPAZC).shape == (0, 9)


def test_mismatched_maps_are_programmer_errors():
    with pytest.raises(ValueError):
        pnet_boxes_single_level(np.zeros((2, 3), np.float32), np.zeros((3, 2, 4), np.float32), 1.0, 0.5, True, IPAZC)
