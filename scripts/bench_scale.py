#!/usr/bin/env python
"""Scale benchmark (issue 17): what grows with the input, measured against baselines in one run.

    python scripts/bench.py --scale [--sizes 1000 4000 12880] [--baseline-commit REV]
    python scripts/bench_scale.py ...          (the same, directly)

1. Parent peak RSS of ``samplegen mtcnn --size 12 --dry-run`` on the real WIDER train boxes (and
   the facial-point faces), as N grows: this checkout (two-pass selection: the parent keeps
   counts and kept ordinals) against `--baseline-commit` (default: the last commit whose parent
   held every image's plan), run from a git worktree of it. Printed as MB and KB per image.
2. Commit cost per shard against the shard count K = 1k, 10k, 30k: the engine's path (a shard
   record, a manifest checkpoint now and then: `samplegen.engine.shard_records`) averaged over a
   run of K shards, against one manifest rewrite listing K shards (what the baseline did after
   every shard).
3. Ray against local workers: the same ``samplegen mtcnn --size 12`` run with ``--engine ray``
   cold (a Ray instance started by the run) and warm (``--ray-address`` of a running instance)
   against ``--engine local``.
4. images/s with 1 and 2 workers as a ratio to the decode floor of the same images.

Images are sized only (JPEG headers of WIDER-like sizes, uniform pixels): planning reads sizes
from headers and the parent's memory does not depend on pixel content.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import TreeWatcher  # noqa: E402
from bench_data import LANDMARK_SIDE, REPO, WIDER_FILE, FACEPOINT_FILE, read_wider_blocks, shared_data_dir  # noqa: E402

BASELINE_COMMIT = "b4d3b70"   # the one-pass selection: the parent held every image's full plan
MB = 1024 * 1024
WIDTH = 1024


def sized_set(data: Path, n: int, cache: Path) -> tuple[Path, Path, Path, Path]:
    """(wider file, wider images, facial-point file, facial-point images) for the first `n` WIDER
    blocks and ~0.78 n faces, with uniform JPEGs of the right sizes (written once, cached)."""
    blocks = read_wider_blocks(data / WIDER_FILE)[:n]
    points = [ln for ln in (data / FACEPOINT_FILE).read_text().splitlines() if ln.strip()][:int(n * 0.78)]
    root = cache / f"scale-n{n}"
    images, faces = root / "wider", root / "facepoint"
    wider_txt, point_txt = root / "wider.txt", root / "points.txt"
    if not wider_txt.is_file():
        encoded: dict[tuple[int, int], bytes] = {}

        def write(path: Path, w: int, h: int) -> None:
            if (w, h) not in encoded:
                encoded[(w, h)] = cv2.imencode(".jpg", np.full((h, w, 3), 127, np.uint8),
                                               [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encoded[(w, h)])

        for block in blocks:
            boxes = block.boxes()
            need = int(np.ceil(max(boxes[:, 3].max(), 1))) + 1 if len(boxes) else 1
            write(images / block.path, max(WIDTH, int(np.ceil(boxes[:, 2].max())) + 1 if len(boxes) else WIDTH),
                  max(768, need))
        for line in points:
            fields = line.split()
            side = max(LANDMARK_SIDE, int(np.ceil(max(float(fields[2]), float(fields[4])))) + 1)
            write(faces / fields[0].replace("\\", "/"), side, side)
        point_txt.write_bytes("".join(p + "\r\n" for p in points).encode())
        wider_txt.write_text("".join("\n".join(b.lines) + "\n" for b in blocks))
    return wider_txt, images, point_txt, faces


def run_peak(cmd: list[str], env: dict | None = None, cwd: Path = REPO) -> tuple[float, int, int, str]:
    """(seconds, parent peak RSS, largest child peak RSS, stdout) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = TreeWatcher(proc.pid)
    out, err = proc.communicate()
    seconds = time.perf_counter() - start
    parent, child = watcher.stop()
    if proc.returncode != 0:
        raise SystemExit(f"bench_scale: {' '.join(cmd)} failed:\n{err[-2000:]}")
    return seconds, parent, child, out


def baseline_tree(commit: str, cache: Path) -> Path:
    """A worktree of `commit` (its `samplegen` importable with PYTHONPATH), made once."""
    tree = cache / f"baseline-{commit}"
    if not (tree / "samplegen").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(tree), commit], cwd=REPO, check=True,
                       capture_output=True)
        link = tree / "samplegen" / "configs"       # its presets, not this checkout's
        if not link.exists():
            link.symlink_to(tree / "configs")
    return tree


def parent_memory(data: Path, sizes: list[int], cache: Path, commit: str) -> list[tuple[int, int, int]]:
    """[(N, this checkout's parent peak, the baseline's)] of ``mtcnn --dry-run`` (bytes)."""
    rows = []
    baseline = baseline_tree(commit, cache)
    for n in sizes:
        wider, images, points, faces = sized_set(data, n, cache)
        args = ["mtcnn", "--size", "12", "--annotations", str(wider), "--format", "wider", "--images", str(images),
                "--landmarks", str(points), "--landmark-format", "facepoints", "--landmark-images", str(faces),
                "--dry-run", "--workers", "2", "--no-progress"]
        code = "import sys; from samplegen.cli import main; main(sys.argv[1:])"
        now = run_peak([sys.executable, "-c", code, *args])[1]
        env = {**os.environ, "PYTHONPATH": str(baseline)}
        then = run_peak([sys.executable, "-c", code, *args], env=env, cwd=baseline)[1]
        rows.append((n, now, then))
    return rows


def _fake_shards(k: int) -> dict:
    from samplegen.engine.task import ShardResult
    from samplegen.writers.base import ShardFile

    return {i: ShardResult(i, (ShardFile(f"pnet-{i:06d}.images.npy", 123456, "0" * 64),
                               ShardFile(f"pnet-{i:06d}.labels.npz", 23456, "1" * 64)),
                           1000, {"pos": 100, "neg": 300}, 100) for i in range(k)}


def manifest_commits(counts: list[int]) -> list[tuple[int, float, float]]:
    """[(K, seconds per shard committing K shards as the engine does now, seconds of one
    manifest rewrite listing K shards: what the per-shard rewrite cost each shard at K)]."""
    from samplegen.engine.manifest import RunDescription, manifest_json, write_manifest
    from samplegen.engine.shard_records import CheckpointPolicy, remove_shard_records, write_shard_record

    rows = []
    for k in counts:
        run = RunDescription("mtcnn", "0", {"a": 1}, {}, 0, "packed", 100, (), k)
        every = _fake_shards(k)
        with tempfile.TemporaryDirectory(dir=REPO / ".cache") as tmp:
            out = Path(tmp)
            start = time.perf_counter()
            write_manifest(out, manifest_json(run, every, complete=False))
            rewrite = time.perf_counter() - start
            shards, recorded, policy = {}, [], CheckpointPolicy()
            start = time.perf_counter()
            for i in range(k):  # the engine's commit path (engine/run.py), shard by shard
                shards[i] = every[i]
                write_shard_record(out, run.fingerprint, every[i], {})
                recorded.append(i)
                if policy.due(len(shards) - len(recorded), len(recorded)):
                    began = time.perf_counter()
                    write_manifest(out, manifest_json(run, shards, complete=False))
                    remove_shard_records(out, recorded)
                    recorded = []
                    policy.written(time.perf_counter() - began)
            rows.append((k, (time.perf_counter() - start) / k, rewrite))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 12880])
    ap.add_argument("--run-images", type=int, default=1500, help="images of the timed runs (parts 3, 4)")
    ap.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    ap.add_argument("--data", help="the shared data folder")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "bench")
    ap.add_argument("--no-ray", action="store_true", help="skip part 3")
    args = ap.parse_args(argv)
    data = shared_data_dir(args.data)
    args.cache.mkdir(parents=True, exist_ok=True)

    print("1. parent peak RSS of mtcnn --size 12 --dry-run, 2 workers (WIDER train boxes + faces)")
    rows = parent_memory(data, sorted(args.sizes), args.cache, args.baseline_commit)
    print(f"{'N':>7s} {'two-pass MB':>12s} {'baseline MB':>12s}")
    for n, now, then in rows:
        print(f"{n:7d} {now / MB:12.0f} {then / MB:12.0f}")
    # Below PARALLEL_PLAN_MIN_IMAGES a run plans in the parent and keeps up to KEPT_PLAN_BYTES of
    # plans by design (not planning them twice): growth is measured where runs plan on workers.
    from samplegen.pipelines.mtcnn_selection import PARALLEL_PLAN_MIN_IMAGES

    large = [row for row in rows if row[0] >= PARALLEL_PLAN_MIN_IMAGES]
    if len(large) > 1:
        (n0, a0, b0), (n1, a1, b1) = large[0], large[-1]
        per_now, per_then = (a1 - a0) / (n1 - n0) / 1024, (b1 - b0) / (n1 - n0) / 1024
        print(f"  growth per image from N={n0} to N={n1}: two-pass {per_now:.2f} KB, baseline {per_then:.2f} KB "
              f"(target < 1 KB); peak at N={n1}: {a1 / MB:.0f} MB (target < 200 MB)")
    else:
        print(f"  growth per image needs two sizes of at least {PARALLEL_PLAN_MIN_IMAGES} images (--sizes)")

    print("2. commit cost per shard against the shard count K")
    print(f"{'K':>7s} {'records+checkpoints':>20s} {'rewrite per shard':>18s} {'ratio':>7s}")
    for k, per_shard, rewrite in manifest_commits([1000, 10000, 30000]):
        print(f"{k:7d} {per_shard * 1000:17.2f} ms {rewrite * 1000:15.1f} ms {rewrite / per_shard:6.0f}x")

    wider, images, points, faces = sized_set(data, args.run_images, args.cache)
    run_args = ["-m", "samplegen", "mtcnn", "--size", "12", "--annotations", str(wider), "--format", "wider",
                "--images", str(images), "--landmarks", str(points), "--landmark-format", "facepoints",
                "--landmark-images", str(faces), "--no-progress", "--overwrite"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        local = {w: run_peak([sys.executable, *run_args, "--workers", str(w), "--out", str(out)])[0] for w in (1, 2)}
        if not args.no_ray:
            print("3. ray against local workers (same run, 2 CPUs)")
            cold = run_peak([sys.executable, *run_args, "--engine", "ray", "--workers", "2", "--out", str(out)])[0]
            subprocess.run([str(Path(sys.executable).parent / "ray"), "start", "--head", "--num-cpus", "2", "--include-dashboard", "false"],
                           capture_output=True, check=True)
            try:
                warm = run_peak([sys.executable, *run_args, "--engine", "ray", "--ray-address", "auto", "--workers",
                                 "2", "--out", str(out)])[0]
            finally:
                subprocess.run([str(Path(sys.executable).parent / "ray"), "stop"], capture_output=True)
            print(f"  local {local[2]:.1f} s, ray cold {cold:.1f} s ({local[2] / cold:.2f}x), "
                  f"ray warm {warm:.1f} s ({local[2] / warm:.2f}x)")
        floor_code = ("import sys, cv2, glob; cv2.setNumThreads(1); "
                      "[cv2.imread(p) for p in sys.argv[1:]]")
        paths = [str(p) for p in sorted(images.rglob("*.jpg"))] + [str(p) for p in sorted(faces.rglob("*.jpg"))]
        floor = run_peak([sys.executable, "-c", floor_code, *paths])[0]
    n_images = len(paths)
    print("4. images/s against the decode floor (one process decoding every image)")
    for w, seconds in local.items():
        print(f"  {w} worker(s): {n_images / seconds:7.1f} images/s, {seconds / floor:5.2f}x the decode floor "
              f"({n_images / floor:.0f} images/s)")
    shutil.rmtree(args.cache / "scale-tmp", ignore_errors=True)


if __name__ == "__main__":
    main()
