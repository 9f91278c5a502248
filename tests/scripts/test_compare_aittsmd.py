"""scripts/compare_aittsmd.py without the real AITTSMD scripts: histograms, the comparison
verdict, the trace-to-crop matching, and the JSON-reference mode end to end on the dlib photos."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture(scope="module")
def compare():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import compare_aittsmd as module
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def test_histograms_bin_hand_made_crops(compare):
    faces = {"a.jpg": np.array([[10.0, 10.0, 30.0, 30.0]])}
    samples = [("a.jpg", "pos", [10, 10, 30, 30]),      # the face itself
               ("a.jpg", "part", [20, 10, 40, 30]),     # shifted right by half a face
               ("a.jpg", "neg", [100, 100, 150, 150])]  # far away, in a 400 x 200 image
    stats = compare.histograms(samples, faces, {"a.jpg": (400, 200)})
    pos, part, neg = stats["pos"]["hist"], stats["part"]["hist"], stats["neg"]["hist"]
    assert pos["iou"][19] == 100 and pos["rel_size"][20] == 100 and pos["offset_x"][20] == 100
    # IoU 200 / 600 = 1/3 -> [0.30, 0.35); centre offset 10 / 20 = 0.5 -> bin 30 of [-1, 1).
    assert part["iou"][6] == 100 and part["offset_x"][30] == 100 and part["offset_y"][20] == 100
    # No overlap: IoU 0, side 50 / min(400, 200) = 0.25 -> bin 5; no offsets.
    assert neg["iou"][0] == 100 and neg["rel_size"][5] == 100 and sum(neg["offset_x"]) == 0
    assert stats["landmark"]["count"] == 0 and [stats[c]["count"] for c in ("pos", "neg", "part")] == [1, 1, 1]


def test_compare_applies_count_and_bin_tolerances(compare):
    flat = {m: [100.0 / n] * n for m, n in (("iou", 20), ("rel_size", 50), ("offset_x", 40), ("offset_y", 40))}
    reference = {c: {"count": 1000, "hist": flat} for c in compare.CLASSES}
    _, ok = compare.compare(reference, reference, {c: 1020 for c in compare.CLASSES})
    assert ok                                           # +2 % and identical histograms
    _, ok = compare.compare(reference, reference, {c: 1040 for c in compare.CLASSES})
    assert not ok                                       # +4 %
    moved = {m: list(v) for m, v in flat.items()}
    moved["iou"][3] += 1.5
    moved["iou"][4] -= 1.5
    shifted = dict(reference, pos={"count": 1000, "hist": moved})
    lines, ok = compare.compare(reference, shifted, {c: 1000 for c in compare.CLASSES})
    assert not ok and "iou 1.50@[0.15,0.20)" in lines[1] and lines[1].endswith("OFF")


def test_landmark_lines_are_matched_to_their_crops(compare):
    # One face, left 10 right 50 top 10 bottom 50 (list order x1 x2 y1 y2), points on a grid.
    points = np.array([[20, 20], [40, 20], [30, 30], [22, 40], [38, 40]], np.float64)
    faces = [("img.jpg", np.array([10.0, 10.0, 50.0, 50.0]), points)]
    mirrored = [0.3, 0.2, 0.8, 0.2, 0.55, 0.45, 0.35, 0.7, 0.75, 0.7]   # flip of the first crop
    events = [["read", "../../DATA/img.jpg", 100, 100],
              ["iou", [12, 12, 52, 52], True], ["choice", 1], ["choice", 0], ["choice", 0],
              ["flip", mirrored],
              ["iou", [30, 30, 70, 70], False],
              ["iou", [22, 12, 62, 52], True], ["choice", 0], ["choice", 0], ["choice", 0]]
    written = [[0.25, 0.25, 0.75, 0.25, 0.5, 0.5, 0.3, 0.75, 0.7, 0.75],    # (p - 10) / 40
               [0.2, 0.2, 0.7, 0.2, 0.45, 0.45, 0.25, 0.7, 0.65, 0.7],      # (p - 12) / 40
               mirrored]                                                     # crop 22: x0 < 0, dropped
    samples, variants = compare.landmark_samples(events, faces, written)
    assert [s[2] for s in samples] == [[10, 10, 51, 51], [12, 12, 53, 53], [12, 12, 53, 53]]
    assert variants == {"gt": 1, "base": 1, "mirror": 1}
    with pytest.raises(SystemExit, match="does not match"):
        compare.landmark_samples(events, faces, [written[0], mirrored, written[1]])


def test_json_reference_mode_on_the_dlib_photos(compare, shared_data, tmp_path, capsys):
    root = shared_data / "dlib_faces"
    inputs = {"wider": str(root / "derived" / "wider_face_train_bbx_gt.txt"), "wider_images": str(root),
              "facepoints": str(root / "derived" / "trainImageList.txt"), "facepoint_images": str(root)}
    samples, shapes, counts = compare.samplegen_plan(inputs, {"plus_one": True}, 3, [])
    stats = compare.histograms(samples, compare.faces_by_key(inputs), shapes)
    assert all(counts[c] == stats[c]["count"] > 0 for c in compare.CLASSES)
    reference = tmp_path / "ref.json"
    reference.write_text(json.dumps({"inputs": {"omitted_images": []}, "classes": compare.pooled([stats]),
                                     "runs": []}))
    args = ["--reference", str(reference), "--samplegen-plan", "--seed", "3"]
    args += [f"--{k.replace('_', '-')}={v}" for k, v in inputs.items()]
    assert compare.main(args + ["--set", "plus_one=true"]) == 0
    assert "verdict: within" in capsys.readouterr().out
    # A real difference: positives need IoU >= 0.8 instead of 0.65.
    assert compare.main(args + ["--set", "plus_one=true", "--set", "pos_iou_thr=0.8"]) == 1
    report = capsys.readouterr().out
    assert "verdict: NOT within" in report and any(ln.startswith("pos") and ln.endswith("OFF")
                                                     for ln in report.splitlines())


def test_inputs_from_reference_rebuild_the_same_records_without_pixels(compare, shared_data, tmp_path, capsys):
    sys.path.insert(0, str(SCRIPTS))
    try:
        import bench_data
    finally:
        sys.path.remove(str(SCRIPTS))
    bench = bench_data.build_set(shared_data, 4, 0, tmp_path / "bench", landmarks=4, log=lambda m: None)
    inputs = {"wider": str(bench.wider_txt), "wider_images": str(bench.wider_images),
              "facepoints": str(bench.facepoint_txt), "facepoint_images": str(bench.facepoint_images)}
    samples, shapes, _ = compare.samplegen_plan(inputs, {}, 0, [])
    stats = compare.histograms(samples, compare.faces_by_key(inputs), shapes)
    reference = tmp_path / "ref.json"
    reference.write_text(json.dumps({
        "inputs": {"set": "test", "omitted_images": [], "sizes": {k: list(v) for k, v in shapes.items()},
                   "choice": json.loads((bench.root / "choice.json").read_text())},
        "classes": compare.pooled([stats]), "runs": []}))
    rebuilt = compare.inputs_from_reference(json.loads(reference.read_text()), str(shared_data), tmp_path / "in")
    assert Path(rebuilt["wider"]).read_bytes() == bench.wider_txt.read_bytes()
    assert Path(rebuilt["facepoints"]).read_bytes() == bench.facepoint_txt.read_bytes()
    args = ["--reference", str(reference), "--samplegen-plan", "--inputs-from-reference",
            "--data", str(shared_data), "--work", str(tmp_path / "work")]
    assert compare.main(args) == 0
    report = capsys.readouterr().out
    for cls in compare.CLASSES:   # the very same pool: same count, no gap at all
        line = next(ln for ln in report.splitlines() if ln.startswith(cls))
        assert f"{stats[cls]['count']:10d}" in line and "+0.0%" in line and line.count(" 0.00@") == 4
