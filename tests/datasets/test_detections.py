"""Detections as JSON lines: 5-value boxes, 4-value proposals with score 1.0."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from samplegen.datasets.detections import read_detections


def test_boxes_and_proposals(tmp_path: Path) -> None:
    f = tmp_path / "det.jsonl"
    f.write_text('{"image": "a\\\\b.jpg", "boxes": [[1, 2, 3, 4, 0.5], [5, 6, 7, 8]]}\n\n'
                 '{"image": "c.jpg", "boxes": []}\n')
    det = read_detections(f)
    assert list(det) == ["a/b.jpg", "c.jpg"]
    np.testing.assert_array_equal(det["a/b.jpg"], np.array([[1, 2, 3, 4, 0.5], [5, 6, 7, 8, 1.0]], np.float32))
    assert det["c.jpg"].shape == (0, 5) and det["c.jpg"].dtype == np.float32
