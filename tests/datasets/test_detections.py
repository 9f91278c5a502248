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


def test_match_detections_counts_and_names_the_nearest_key(shared_data: Path, tmp_path: Path) -> None:
    """Detections keyed with a folder prefix the annotation does not use: 0 of 4 match, and the
    example sits beside the annotation key it was meant to be."""
    from samplegen.datasets import read_dataset
    from samplegen.datasets.detections import match_detections

    records = read_dataset("wider", shared_data / "dlib_faces" / "derived" / "wider_face_train_bbx_gt.txt").records
    keys = sorted(r.key for r in records)[:4]
    f = tmp_path / "dets.jsonl"
    f.write_text("".join(f'{{"image": "images/{k}", "boxes": [[1, 2, 30, 40, 0.9]]}}\n' for k in keys))
    match = match_detections(read_detections(f), records)
    assert (match.matched, match.total) == (0, 4)
    assert match.example == f"images/{keys[0]}" and match.nearest == keys[0]
    assert match.message() == (f"0 of 4 detection entries name an image of the annotations "
                               f"(e.g. 'images/{keys[0]}'; nearest annotation key: '{keys[0]}')")
    f.write_text("".join(f'{{"image": "{k}", "boxes": []}}\n' for k in keys[:3]) + '{"image": "x/y.jpg", "boxes": []}\n')
    match = match_detections(read_detections(f), records)
    assert (match.matched, match.total, match.example) == (3, 4, "x/y.jpg")
    f.write_text("".join(f'{{"image": "{k}", "boxes": []}}\n' for k in keys))
    assert match_detections(read_detections(f), records).example is None
