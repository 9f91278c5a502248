"""Smoke test of the benchmark scripts at a tiny N: they run end to end and stay deterministic.

No timing is asserted (the machine is shared); mmdetection is never needed (``--oracle`` points
nowhere, so that part is skipped with its message).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
N = 8


@pytest.fixture(scope="module")
def bench_data():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import bench_data as module
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


@pytest.fixture(scope="module")
def small_set(bench_data, shared_data, tmp_path_factory):
    cache = tmp_path_factory.mktemp("bench")
    return bench_data.build_set(shared_data, N, 0, cache, log=lambda m: None), cache


def test_set_is_deterministic_and_wider_shaped(bench_data, small_set, shared_data, tmp_path):
    bench, _ = small_set
    again = bench_data.build_set(shared_data, N, 0, tmp_path, log=lambda m: None)
    assert again.choice_sha == bench.choice_sha
    assert again.wider_txt.read_bytes() == bench.wider_txt.read_bytes()
    assert again.facepoint_txt.read_bytes() == bench.facepoint_txt.read_bytes()
    first = bench.image_paths()[0]
    assert first.read_bytes() == again.image_paths()[0].read_bytes()
    assert bench.face_images == N and bench.landmark_images == round(N * 10000 / 12880)
    paths = bench.image_paths()
    assert len(paths) == bench.images
    import cv2
    for path in paths[:N]:
        assert 100_000 <= path.stat().st_size <= 150_000, path
        height, width = cv2.imread(str(path)).shape[:2]
        assert width == 1024 and height >= 576
    # A smaller N is a prefix of the same seeded choice: its images are among the larger set's.
    smaller = bench_data.build_set(shared_data, N // 2, 0, tmp_path, log=lambda m: None)
    chosen = json.loads((bench.root / "choice.json").read_text())["wider_images"]
    assert set(json.loads((smaller.root / "choice.json").read_text())["wider_images"]) <= set(chosen)


def test_classic_baseline_writes_one_file_per_crop(small_set, tmp_path):
    bench, _ = small_set
    out = tmp_path / "classic"
    cmd = [sys.executable, str(SCRIPTS / "classic_mtcnn.py"), "--wider", str(bench.wider_txt),
           "--wider-images", str(bench.wider_images), "--landmarks", str(bench.facepoint_txt),
           "--landmark-images", str(bench.facepoint_images), "--out", str(out)]
    summary = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert summary["images"] == bench.images
    assert summary["counts"]["negative"] >= 50 * N          # 50 random negatives per image
    for folder, listing in (("positive", "pos"), ("negative", "neg"), ("part", "part"), ("landmark", "landmark")):
        files = list((out / "12" / folder).glob("*.jpg"))
        lines = (out / f"{listing}_12.txt").read_text().splitlines()
        assert len(files) == len(lines) == summary["counts"][folder]
    again = json.loads(subprocess.run(cmd[:-1] + [str(tmp_path / "again")], check=True, capture_output=True,
                                      text=True).stdout)
    assert again["counts"] == summary["counts"]              # seeded: same crops every run


def test_bench_runs_end_to_end(small_set, shared_data, tmp_path):
    _, cache = small_set
    cmd = [sys.executable, str(SCRIPTS / "bench.py"), "--images", str(N), "--workers", "2", "--repeat", "1",
           "--anchor-images", "3", "--coco-images", "8", "--data", str(shared_data), "--cache", str(cache),
           "--oracle", str(tmp_path / "no-such-python")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("SUMMARY ")
    for task in ("decode floor", "samplegen mtcnn 12 packed", "samplegen mtcnn 12 wds", "samplegen mtcnn 12 list",
                 "samplegen mtcnn 24 packed", "samplegen mtcnn 48 packed", "classic mtcnn 12",
                 "samplegen anchors fpn", "samplegen anchors ssd300", "samplegen anchors fcos",
                 "numpy float64 dense", "mmdetection skipped", "scaling: --workers 1 vs 2",
                 "samplegen, no dense max_iou", "anchors fpn whole process", "KEY.npz bytes per image",
                 "COCO128's first 8 images"):
        assert task in proc.stdout, task
    # the bytes table: the previous dense format and the sparse one, measured on the same images,
    # and what the run wrote (over its 8 images; the comparison above ran on the first 3)
    row = next(line.split() for line in lines if line.startswith("WIDER") and line.rstrip().endswith(tuple("0123456789"))
               and "x" in line.split()[4])
    dense, sparse, written = int(row[2]), int(row[3]), int(row[5])
    assert dense > 5 * sparse and dense > 5 * written > 0


def test_memory_check_runs(small_set, shared_data):
    _, cache = small_set
    cmd = [sys.executable, str(SCRIPTS / "bench.py"), "--memory-check", "--repeat", "1", "--memory-sizes", "4", str(N),
           "--data", str(shared_data), "--cache", str(cache)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("SUMMARY memory:")
