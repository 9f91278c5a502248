"""samplegen benchmark: MTCNN crops and anchor labels against the tools our users run today.

    python scripts/bench.py [--images 300] [--workers 2] [--oracle PYTHON] [--profile]
    python scripts/bench.py --memory-check [--memory-sizes 300 1000 3000]
    python scripts/bench.py --images 600 --aittsmd MTCNN-Tensorflow --aittsmd-python PY   # + the real AITTSMD pipeline
    python scripts/bench.py --loaders ...      # DataLoader throughput per output format (bench_loaders.py)
    python scripts/bench.py --scale ...        # parent memory, manifest commits, Ray, vs N (bench_scale.py)
    python scripts/bench.py --detect ...       # samplegen detect vs the forward-pass floor (bench_detect.py)

The machine is shared and noisy, so absolute times prove little: every claim is a ratio between
tasks measured in the same run, on the same inputs, with the same worker count.

Inputs (`bench_data`): N real WIDER train annotation blocks (seeded choice, recorded in
``choice.json``) and the same share of the real facial-point list, with synthetic JPEGs of WIDER's
size and compressibility, cached under ``.cache/bench/`` (git-ignored).

Tasks, each a subprocess timed wall-clock from start to exit (Python start-up and imports
included, as a user would see it), its peak RSS read from ``/proc`` (parent and largest worker):

1. decode floor: ``cv2.imread`` of every source image once, over the same worker count;
2. ``samplegen mtcnn --size 12|24|48`` (packed; ``wds`` and ``list`` beside it for 12) and
   ``samplegen anchors --method fpn|ssd300|fcos``;
3. the classic single-process generator (``scripts/classic_mtcnn.py``), same sampling counts;
4. anchors per image, in this process on one thread, FPN at 1333x800 over K images (all the
   images of the ``samplegen anchors --method fpn`` run by default): samplegen's ``label_image``
   (with the dense ``max_iou``, and as ``samplegen anchors`` labels: without it), a straightforward
   float64 dense numpy version, and mmdetection 3.3.0 (generator + assigner + sampler + coder,
   through ``scripts/anchors_oracle_bench.py`` in the oracle venv, when one is found);
5. anchors whole process: the wall time of ``samplegen anchors --method fpn`` (start-up, reading
   annotations, labelling, writing shards) per image against mmdetection's labelling alone on
   the same images, on the WIDER set and on COCO128 (the shared data's real images), and the
   bytes per image of ``KEY.npz``: the previous dense format (every ``label_image`` array,
   deflated) against the sparse one the run wrote, measured on the same images.

Then a scaling table (``--workers 1`` vs the chosen count), the ratios against the issue's
targets, and a one-line summary as the last line. ``--profile`` adds cProfile summaries of
``samplegen mtcnn --size 12`` and of the fpn anchors path (one worker, so the work is in-process).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import REPO, BenchSet, build_set, shared_data_dir  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent
DEFAULT_CACHE = REPO / ".cache" / "bench"
POLL_SECONDS = 0.1
MB = 1024 * 1024


# ----------------------------------------------------------------------------- measuring

def _ppid_map() -> dict[int, int]:
    """pid -> parent pid of every process (Linux /proc)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        out[int(name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return out


def _peak_rss(pid: int) -> int | None:
    """VmHWM (the kernel's own peak-RSS high-water mark) of `pid` in bytes, None once it exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class TreeWatcher:
    """Samples the peak RSS of a process and all its descendants until it exits.

    VmHWM is a per-process high-water mark kept by the kernel, so polling misses nothing a
    process reached before the last poll; only growth in its final ~0.1 s can go unseen. That is
    why workers are watched while they live (once reaped, their VmHWM is gone) and why this is
    better than ``RUSAGE_CHILDREN``, which only keeps the maximum over every child ever reaped.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(POLL_SECONDS)

    def sample(self) -> None:
        parents = _ppid_map() if sys.platform.startswith("linux") else {}
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            p = frontier.pop()
            kids = [c for c, pp in parents.items() if pp == p and c not in tree]
            tree.update(kids)
            frontier.extend(kids)
        for p in tree:
            rss = _peak_rss(p)
            if rss is not None:
                self.peaks[p] = max(self.peaks.get(p, 0), rss)

    def stop(self) -> tuple[int, int]:
        """(parent peak, largest descendant peak) in bytes; a serial run has no descendant."""
        self._stop.set()
        self._thread.join()
        parent = self.peaks.get(self.pid, 0)
        workers = max((v for p, v in self.peaks.items() if p != self.pid), default=0)
        return parent, workers


@dataclass
class Result:
    """One measured task."""

    name: str
    seconds: float
    images: int
    samples: int | None = None
    parent_rss: int = 0
    worker_rss: int = 0
    note: str = ""
    output: dict = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds

    @property
    def samples_per_s(self) -> float | None:
        return None if self.samples is None else self.samples / self.seconds


REPEAT = [1]  # --repeat: runs per task (set once in main_bench / main_memory)


def run_once(cmd: list[str], cwd: Path = REPO) -> tuple[float, int, int, str]:
    """Run `cmd` once: (wall seconds, parent peak RSS, largest worker peak RSS, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = TreeWatcher(proc.pid)
    # Read the pipes while waiting: a full stderr pipe would otherwise block the child.
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    parent, workers = watcher.stop()
    if not parent:  # not Linux: fall back to the kernel's figure for the reaped tree
        import resource
        parent = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
    return seconds, parent, workers, stdout


def run_measured(cmd: list[str], clean: Path | None = None) -> tuple[float, int, int, str]:
    """Best wall time of ``--repeat`` runs of `cmd` (other users' load only ever adds time), the
    largest peaks seen, and the last stdout. `clean` is removed before each run, untimed:
    deleting 100k files of a previous run is not part of the task."""
    best, parent, worker, stdout = float("inf"), 0, 0, ""
    for _ in range(REPEAT[0]):
        if clean is not None:
            shutil.rmtree(clean, ignore_errors=True)
        secs, p, w, stdout = run_once(cmd)
        best, parent, worker = min(best, secs), max(parent, p), max(worker, w)
    return best, parent, worker, stdout


# ----------------------------------------------------------------------------- tasks

def decode_floor_main(list_file: str, workers: int) -> None:
    """Hidden subcommand: ``cv2.imread`` every path of `list_file` once over `workers` processes."""
    import cv2
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    paths = Path(list_file).read_text().splitlines()
    if workers <= 1:
        cv2.setNumThreads(1)
        count = sum(_read_chunk(paths))
    else:
        # The same pool kind samplegen uses (forkserver, one OpenCV thread per worker), chunks of
        # 20 images so the pool's own overhead is negligible.
        context = multiprocessing.get_context("forkserver")
        chunks = [paths[i:i + 20] for i in range(0, len(paths), 20)]
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
            count = sum(sum(r) for r in pool.map(_read_chunk, chunks))
    print(json.dumps({"images": count}))


def _one_thread() -> None:
    import cv2
    cv2.setNumThreads(1)


def _read_chunk(paths: list[str]) -> list[int]:
    import cv2
    return [cv2.imread(p) is not None for p in paths]


def decode_floor(bench: BenchSet, workers: int, runs: Path) -> Result:
    listing = runs / "decode_list.txt"
    listing.write_text("\n".join(str(p) for p in bench.image_paths()))
    secs, parent, worker, out = run_measured([sys.executable, str(SCRIPTS / "bench.py"), "_decode",
                                              str(listing), "--workers", str(workers)])
    decoded = json.loads(out)["images"]
    assert decoded == bench.images, f"decoded {decoded} of {bench.images} images"
    return Result("decode floor (cv2.imread)", secs, bench.images, None, parent, worker)


def mtcnn_cmd(bench: BenchSet, size: int, layout: str, workers: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "samplegen", "mtcnn", "--size", str(size),
            "--annotations", str(bench.wider_txt), "--format", "wider", "--images", str(bench.wider_images),
            "--landmarks", str(bench.facepoint_txt), "--landmark-format", "facepoints",
            "--landmark-images", str(bench.facepoint_images), "--layout", layout,
            "--out", str(out), "--workers", str(workers), "--no-progress", "--overwrite"]


def samplegen_mtcnn(bench: BenchSet, size: int, layout: str, workers: int, runs: Path) -> Result:
    out = runs / f"mtcnn{size}-{layout}"
    secs, parent, worker, stdout = run_measured(mtcnn_cmd(bench, size, layout, workers, out), clean=out)
    summary = json.loads(stdout)
    return Result(f"samplegen mtcnn {size} {layout}", secs, bench.images, summary["samples"], parent, worker,
                  output=summary)


def anchors_cmd(bench: BenchSet, method: str, workers: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "samplegen", "anchors", "--method", method,
            "--annotations", str(bench.wider_txt), "--format", "wider", "--images", str(bench.wider_images),
            "--out", str(out), "--workers", str(workers), "--no-progress", "--overwrite"]


def samplegen_anchors(bench: BenchSet, method: str, workers: int, runs: Path) -> Result:
    out = runs / f"anchors-{method}"
    secs, parent, worker, stdout = run_measured(anchors_cmd(bench, method, workers, out), clean=out)
    summary = json.loads(stdout)
    # One sample per WIDER image; the facial-point images are not part of an anchors run.
    return Result(f"samplegen anchors {method}", secs, bench.face_images, summary["samples"], parent, worker,
                  output=summary)


def classic(bench: BenchSet, runs: Path, seed: int) -> Result:
    out = runs / "classic12"
    cmd = [sys.executable, str(SCRIPTS / "classic_mtcnn.py"), "--wider", str(bench.wider_txt),
           "--wider-images", str(bench.wider_images), "--landmarks", str(bench.facepoint_txt),
           "--landmark-images", str(bench.facepoint_images), "--out", str(out), "--size", "12",
           "--seed", str(seed)]
    secs, parent, worker, stdout = run_measured(cmd, clean=out)
    summary = json.loads(stdout)
    shutil.rmtree(out, ignore_errors=True)
    return Result("classic mtcnn 12 (1 process)", secs, bench.images, summary["samples"], parent, worker,
                  output=summary)


# ----------------------------------------------------------------------------- anchors per image

@dataclass
class AnchorCase:
    """One image as the FPN network sees it."""

    key: str
    gts: np.ndarray          # float32 [G, 4] resized to the network input (clipped)
    featmaps: np.ndarray     # int [L, 2]
    pad: np.ndarray          # int [2] (h, w)
    record: object           # the samplegen Record (original pixels)


def anchor_records(format_name: str, annotations: Path, images: Path, count: int | None) -> list:
    """The first `count` records (all when None) in the order ``samplegen anchors`` labels them."""
    from samplegen.datasets import read_dataset

    records = sorted(read_dataset(format_name, annotations, images).records, key=lambda r: r.key)
    return records if count is None else records[:count]


def anchor_cases(records: list):
    """`records` with their FPN geometry, and the fpn config."""
    from samplegen.anchors import geometry as geo
    from samplegen.anchors.methods import anchor_config
    from samplegen.anchors.methods import input_geometry

    cfg = anchor_config("fpn")
    cases = []
    for r in records:
        g = input_geometry(cfg, r.width, r.height)
        gts = geo.scale_boxes(np.asarray(r.boxes, np.float32).reshape(-1, 4), g, cfg.input.clip_object_border)
        cases.append(AnchorCase(r.key, gts, np.array(g.featmap_sizes), np.array(g.pad_shape), r))
    return cases, cfg


def dense_numpy_fpn(gts: np.ndarray, featmaps: np.ndarray, cfg, rng: np.random.Generator) -> np.ndarray:
    """The straightforward version: float64 anchors, the whole [G, A] IoU matrix, mmdet's rules.

    Returns assigned_gt (mmdet encoding: 0 negative, -1 ignored, k + 1 on GT k).
    """
    ratios = np.array(cfg.prior_generator.ratios, np.float64)
    scales = np.array(cfg.prior_generator.scales, np.float64)
    levels = []
    for (fh, fw), stride in zip(featmaps, cfg.prior_generator.strides):
        h_ratios = np.sqrt(ratios)
        ws = (stride * (1 / h_ratios)[:, None] * scales[None, :]).reshape(-1)
        hs = (stride * h_ratios[:, None] * scales[None, :]).reshape(-1)
        base = np.stack([-0.5 * ws, -0.5 * hs, 0.5 * ws, 0.5 * hs], axis=1)
        xx, yy = np.meshgrid(np.arange(fw) * stride, np.arange(fh) * stride)
        shifts = np.stack([xx.ravel(), yy.ravel(), xx.ravel(), yy.ravel()], axis=1).astype(np.float64)
        levels.append((shifts[:, None, :] + base[None, :, :]).reshape(-1, 4))
    anchors = np.concatenate(levels)
    gt = gts.astype(np.float64)
    assigned = np.full(len(anchors), -1, np.int64)
    if len(gt) == 0:
        assigned[:] = 0
        return assigned
    lt = np.maximum(gt[:, None, :2], anchors[None, :, :2])
    rb = np.minimum(gt[:, None, 2:], anchors[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    area_a = (anchors[:, 2] - anchors[:, 0]) * (anchors[:, 3] - anchors[:, 1])
    overlaps = inter / np.maximum(area_g[:, None] + area_a[None, :] - inter, 1e-6)
    max_iou = overlaps.max(axis=0)
    argmax = overlaps.argmax(axis=0)
    gt_max = overlaps.max(axis=1)
    assigned[(max_iou >= 0) & (max_iou < cfg.assigner.neg_iou_thr)] = 0
    pos = max_iou >= cfg.assigner.pos_iou_thr
    assigned[pos] = argmax[pos] + 1
    for i in range(len(gt)):                       # low-quality matches, later GT wins
        if gt_max[i] >= cfg.assigner.min_pos_iou:
            assigned[overlaps[i] == gt_max[i]] = i + 1
    # RandomSampler(256, 0.5) and the deltas of the sampled positives, as mmdet's RPN head does.
    pos_idx = np.flatnonzero(assigned > 0)
    pos_idx = rng.permutation(pos_idx)[:int(cfg.sampler.num * cfg.sampler.pos_fraction)]
    neg_idx = rng.permutation(np.flatnonzero(assigned == 0))[:cfg.sampler.num - len(pos_idx)]
    p, g = anchors[pos_idx], gt[assigned[pos_idx] - 1]
    pw, ph = p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    deltas = np.stack([((g[:, 0] + g[:, 2]) - (p[:, 0] + p[:, 2])) / 2 / pw,
                       ((g[:, 1] + g[:, 3]) - (p[:, 1] + p[:, 3])) / 2 / ph,
                       np.log(gw / pw), np.log(gh / ph)], axis=1)
    assert len(deltas) + len(neg_idx) <= cfg.sampler.num
    return assigned


def find_oracle(explicit: str | None) -> str | None:
    """``--oracle``, else ``$SAMPLEGEN_ORACLE_PYTHON``, else the setup script's default venv.

    The first one given decides: a given path that does not exist means "no oracle" (skip), so
    ``--oracle none`` turns mmdetection off.
    """
    given = explicit or os.environ.get("SAMPLEGEN_ORACLE_PYTHON")
    # setup.sh's default venv is .oracle-venv in the folder it runs from (git-ignored here).
    candidate = given or str(Path(__file__).resolve().parent.parent / ".oracle-venv" / "bin" / "python")
    return candidate if Path(candidate).is_file() else None


def anchors_per_image(records: list, oracle: str | None, oracle_dir: Path, runs: Path, tag: str,
                      with_numpy: bool = True) -> dict:
    """Per-image FPN labelling times (s) of samplegen, dense numpy and mmdet, one thread each, and
    the KEY.npz bytes of each image in the previous dense format and in the sparse one.

    Returns {"samplegen": [..], "samplegen_stored": [..], "numpy": [..] or None, "mmdet": [..] or
    None, "boxes": [..], "old_bytes": [..], "new_bytes": [..], "agree_*": ..}.
    """
    from samplegen.anchors.methods import label_image
    from samplegen.anchors.sparse import sparse_arrays
    from samplegen.rng import rng_for
    from samplegen.writers.npz import npz_bytes

    cases, cfg = anchor_cases(records)
    r0 = cases[0].record
    label_image(r0.boxes, r0.labels, r0.ignore, r0.width, r0.height, cfg, rng_for(0, r0.key))  # warm-up
    ours, stored, dense, ours_assigned, dense_assigned, old_bytes, new_bytes = [], [], [], [], [], [], []
    for case in cases:
        r = case.record
        start = time.perf_counter()
        arrays = label_image(r.boxes, r.labels, r.ignore, r.width, r.height, cfg, rng_for(0, r.key))
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        label_image(r.boxes, r.labels, r.ignore, r.width, r.height, cfg, rng_for(0, r.key), with_max_iou=False)
        stored.append(time.perf_counter() - start)
        ours_assigned.append(arrays["assigned_gt"])
        old_bytes.append(len(npz_bytes(arrays, compress=True)))          # the format before the sparse one
        new_bytes.append(len(npz_bytes(sparse_arrays(arrays), compress=True)))
        if with_numpy:
            start = time.perf_counter()
            dense_assigned.append(dense_numpy_fpn(case.gts, case.featmaps, cfg, np.random.default_rng(0)))
            dense.append(time.perf_counter() - start)
    result = {"samplegen": ours, "samplegen_stored": stored, "numpy": dense if with_numpy else None,
              "mmdet": None, "boxes": [len(c.gts) for c in cases], "old_bytes": old_bytes, "new_bytes": new_bytes,
              "agree_numpy": _agreement(ours_assigned, dense_assigned) if with_numpy else ""}
    if oracle is None:
        result["mmdet_note"] = ("mmdetection skipped: no oracle python (pass --oracle or set "
                                "SAMPLEGEN_ORACLE_PYTHON; see ../shared/oracle/README.md)")
        return result
    cases_file, out_file = runs / f"anchor_cases-{tag}.npz", runs / f"anchor_oracle-{tag}.npz"
    pg, a, s = cfg.prior_generator, cfg.assigner, cfg.sampler
    arrays = {"count": np.array(len(cases)), "strides": np.array(pg.strides), "ratios": np.array(pg.ratios),
              "scales": np.array(pg.scales), "thresholds": np.array([a.pos_iou_thr, a.neg_iou_thr, a.min_pos_iou]),
              "sampler": np.array([s.num, s.pos_fraction]), "stds": np.array(cfg.coder.target_stds)}
    for i, c in enumerate(cases):
        arrays.update({f"gt_{i}": c.gts, f"featmaps_{i}": c.featmaps, f"pad_{i}": c.pad})
    np.savez(cases_file, **arrays)
    proc = subprocess.run([oracle, str(SCRIPTS / "anchors_oracle_bench.py"), str(cases_file), str(out_file),
                           "--oracle-dir", str(oracle_dir)], capture_output=True, text=True)
    if proc.returncode != 0:
        result["mmdet_note"] = f"mmdetection failed: {proc.stderr.strip().splitlines()[-1:]}"
        return result
    got = np.load(out_file)
    result["mmdet"] = got["seconds"].tolist()
    result["agree_mmdet"] = _agreement(ours_assigned, [got[f"assigned_{i}"] for i in range(len(cases))])
    return result


def _agreement(a: list[np.ndarray], b: list[np.ndarray]) -> str:
    """How far two lists of per-image assigned_gt arrays agree: identical images, differing anchors."""
    same = sum(int(np.array_equal(x, y)) for x, y in zip(a, b))
    differ = sum(int((x != y).sum()) for x, y in zip(a, b))
    total = sum(len(x) for x in a)
    return f"{same}/{len(a)} images identical, {differ} of {total} anchors differ"


def print_anchors_per_image(per: dict, which: str, objects: str) -> None:
    boxes = per["boxes"]
    print(f"\nanchors per image, FPN 1333x800 (~250k anchors), {which} ({min(boxes)}-{max(boxes)} {objects}, "
          f"median {int(np.median(boxes))}), one thread")
    print(f"{'implementation':<34}{'mean ms':>9}{'median ms':>11}{'max ms':>9}  agrees with samplegen")
    rows = [("samplegen label_image", per["samplegen"], ""),
            ("samplegen, no dense max_iou", per["samplegen_stored"], "(what samplegen anchors labels)")]
    if per["numpy"] is not None:
        rows.append(("numpy float64 dense", per["numpy"], per["agree_numpy"]))
    if per["mmdet"] is not None:
        rows.append(("mmdetection 3.3.0 (torch CPU)", per["mmdet"], per["agree_mmdet"]))
    for name, secs, agree in rows:
        ms = np.array(secs) * 1000
        print(f"{name:<34}{ms.mean():>9.1f}{np.median(ms):>11.1f}{ms.max():>9.1f}  {agree}")
    if per["mmdet"] is None:
        print("  " + per["mmdet_note"])
    if per["numpy"] is not None:
        # float64 IoU breaks some exact ties of mmdet's float32 low-quality step differently.
        print("  (the numpy baseline computes in float64: its differences are float32 ties at a GT's max IoU)")


def coco_subset(annotations: Path, count: int, target: Path) -> Path:
    """A COCO file of the first `count` images (by file name) of `annotations` and their boxes."""
    data = json.loads(annotations.read_text())
    kept = sorted(data["images"], key=lambda image: image["file_name"])[:count]
    ids = {image["id"] for image in kept}
    data["images"] = kept
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data))
    return target


def coco128_anchors(data: Path, workers: int, oracle: str | None, oracle_dir: Path, runs: Path,
                    count: int = 0) -> dict | None:
    """``samplegen anchors --method fpn`` on COCO128 (``workers`` and 1 worker) and the per-image
    comparison on its 128 images (the first `count` when above 0); None when the shared data has
    no COCO128."""
    root = data / "coco128"
    annotations, images = root / "annotations" / "instances_train2017.json", root / "images" / "train2017"
    if not annotations.is_file():
        print(f"\n(COCO128 not found under {data}: its anchors rows are skipped)")
        return None
    if 0 < count < 128:
        annotations = coco_subset(annotations, count, runs / f"coco128-first-{count}.json")
    results = {}
    for w in sorted({workers, 1}, reverse=True):
        out = runs / f"coco128-fpn-w{w}"
        cmd = [sys.executable, "-m", "samplegen", "anchors", "--method", "fpn", "--annotations", str(annotations),
               "--images", str(images), "--out", str(out), "--workers", str(w), "--no-progress", "--overwrite"]
        secs, parent, worker, stdout = run_measured(cmd, clean=out)
        summary = json.loads(stdout)
        results[w] = Result(f"samplegen anchors fpn coco128 w{w}", secs, summary["images"], summary["samples"],
                            parent, worker, output=summary)
    per = anchors_per_image(anchor_records("coco", annotations, images, None), oracle, oracle_dir, runs, "coco128",
                            with_numpy=False)
    label = "COCO128's 128 images" if not 0 < count < 128 else f"COCO128's first {count} images"
    print_anchors_per_image(per, label, "boxes")
    return {"per": per, "runs": results, "out": runs / f"coco128-fpn-w{workers}"}


def print_whole_process(per: dict, run: Result, run1: Result | None, coco: dict | None, workers: int) -> float | None:
    """Whole ``samplegen anchors --method fpn`` runs per image against mmdet's labelling alone on
    the same images; returns the ratio at the bench's worker count on the WIDER set (None without mmdet)."""
    rows = [("WIDER", per, run, run1)]
    if coco is not None:
        rows.append(("COCO128", coco["per"], coco["runs"][workers], coco["runs"].get(1)))
    print("\nanchors fpn whole process (start-up, annotations, labelling, KEY.npz + shards written) per image vs "
          "mmdetection's labelling alone (one thread, same images)")
    print(f"{'set':<9}{'images':>7}{'mmdet ms':>10}{f'{workers} workers ms':>15}{'ratio':>8}{'1 worker ms':>13}{'ratio':>8}")
    ratio = None
    for name, p, rw, r1 in rows:
        mmdet = np.mean(p["mmdet"]) * 1000 if p["mmdet"] is not None else None
        cells = [f"{name:<9}{rw.images:>7}", f"{mmdet:>10.1f}" if mmdet else f"{'-':>10}"]
        for r in (rw, r1):
            if r is None:
                cells.append(f"{'-':>15}{'-':>8}" if r is rw else f"{'-':>13}{'-':>8}")
                continue
            ms = r.seconds / r.images * 1000
            width = 15 if r is rw else 13
            cells.append(f"{ms:>{width}.2f}" + (f"{mmdet / ms:>7.1f}x" if mmdet else f"{'-':>8}"))
        print("".join(cells))
        if name == "WIDER" and mmdet:
            ratio = mmdet / (rw.seconds / rw.images * 1000)
    if ratio is not None:
        print(f"  anchors fpn whole process vs mmdet labelling:  {ratio:6.1f}x  (target >= 10x, {workers} workers: "
              f"{verdict(ratio >= 10)})")
    else:
        print("  anchors fpn whole process vs mmdet labelling: mmdet skipped")
    return ratio


def npz_member_bytes(out: Path) -> tuple[int, int, int]:
    """(samples, bytes of every KEY.npz, bytes of the shards) of an anchors output folder."""
    import tarfile

    samples = npz = shards = 0
    for tar_path in sorted(out.glob("*.tar")):
        shards += tar_path.stat().st_size
        with tarfile.open(tar_path) as tar:
            for member in tar:
                if member.name.endswith(".npz"):
                    samples, npz = samples + 1, npz + member.size
    return samples, npz, shards


def print_npz_bytes(per: dict, out: Path, coco: dict | None) -> float:
    """KEY.npz bytes per image, previous (dense) format vs the sparse one; returns the WIDER ratio."""
    print("\nanchors fpn KEY.npz bytes per image: previous format (dense arrays, deflated) vs sparse, same images")
    print(f"{'set':<9}{'images':>7}{'dense B':>10}{'sparse B':>10}{'smaller':>9}{'written npz B':>15}{'shard B':>10}")
    ratio = 0.0
    for name, p, folder in [("WIDER", per, out)] + ([("COCO128", coco["per"], coco["out"])] if coco else []):
        old, new = np.mean(p["old_bytes"]), np.mean(p["new_bytes"])
        samples, npz, shards = npz_member_bytes(folder)
        print(f"{name:<9}{len(p['old_bytes']):>7}{old:>10.0f}{new:>10.0f}{old / new:>8.1f}x"
              f"{npz / max(samples, 1):>15.0f}{shards / max(samples, 1):>10.0f}")
        ratio = ratio or old / new
    print(f"  KEY.npz dense / sparse bytes per image:        {ratio:6.1f}x  (target >= 5x: {verdict(ratio >= 5)})")
    return ratio


# ----------------------------------------------------------------------------- profiling

def profile_cli(args: list[str], prof: Path, top: int = 14) -> str:
    """cProfile of ``samplegen ARGS`` (pass ``--workers 1``: serial, so workers' work is seen).

    Run as ``python -m cProfile -m samplegen`` in a subprocess, exactly as a user runs it; the
    report is the top functions by own time, then by cumulative time.
    """
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "samplegen", *args], cwd=REPO,
                   check=True, capture_output=True)
    text = io.StringIO()
    stats = pstats.Stats(str(prof), stream=text)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


# ----------------------------------------------------------------------------- reporting

def fmt_mb(value: int) -> str:
    return f"{value / MB:.0f}" if value else "-"


def print_table(results: list[Result]) -> None:
    print(f"{'task':<34}{'time s':>8}{'images/s':>10}{'samples':>10}{'samples/s':>11}  peak RSS MB parent/worker")
    for r in results:
        samples = "-" if r.samples is None else f"{r.samples}"
        rate = "-" if r.samples_per_s is None else f"{r.samples_per_s:.0f}"
        print(f"{r.name:<34}{r.seconds:>8.2f}{r.images_per_s:>10.1f}{samples:>10}{rate:>11}  "
              f"{fmt_mb(r.parent_rss):>6} / {fmt_mb(r.worker_rss)}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main_bench(args) -> None:
    data = shared_data_dir(args.data)
    cache = Path(args.cache)
    bench = build_set(data, args.images, args.seed, cache, log=lambda m: print(m, file=sys.stderr))
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    w = args.workers
    print(f"samplegen bench: {bench.face_images} WIDER train images + {bench.landmark_images} facial-point "
          f"images (choice {bench.choice_sha}, seed {args.seed}), {w} workers, {os.cpu_count()} CPUs")

    results = [decode_floor(bench, w, runs)]
    results += [samplegen_mtcnn(bench, 12, layout, w, runs) for layout in ("packed", "wds", "list")]
    results += [samplegen_mtcnn(bench, size, "packed", w, runs) for size in (24, 48)]
    results.append(classic(bench, runs, args.seed))
    results += [samplegen_anchors(bench, m, w, runs) for m in ("fpn", "ssd300", "fcos")]
    print_table(results)
    named = {r.name: r for r in results}
    floor, ours12, old = named["decode floor (cv2.imread)"], named["samplegen mtcnn 12 packed"], named[
        "classic mtcnn 12 (1 process)"]
    planned = ours12.output.get("selected", {})
    print(f"  mtcnn 12: samplegen plans the classic amount of work ({old.output['counts']} written by classic) "
          f"and cuts only the balanced 1:3:1:2 selection {planned}")

    oracle = find_oracle(args.oracle)
    count = bench.face_images if args.anchor_images <= 0 else min(args.anchor_images, bench.face_images)
    wider_records = anchor_records("wider", bench.wider_txt, bench.wider_images, count)
    per = anchors_per_image(wider_records, oracle, Path(args.oracle_dir), runs, "wider")
    print_anchors_per_image(per, f"first {count} WIDER images", "faces")
    coco = coco128_anchors(data, w, oracle, Path(args.oracle_dir), runs, args.coco_images)

    scaling = []
    if w != 1:
        print(f"\nscaling: --workers 1 vs {w}")
        one = [decode_floor(bench, 1, runs), samplegen_mtcnn(bench, 12, "packed", 1, runs),
               samplegen_anchors(bench, "fpn", 1, runs)]
        named["samplegen anchors fpn, 1 worker"] = one[-1]
        print(f"{'task':<34}{'1 worker s':>11}{f'{w} workers s':>14}{'speed-up':>10}")
        for r1 in one:
            rw = named[r1.name]
            scaling.append((r1.name, r1.seconds / rw.seconds))
            print(f"{r1.name:<34}{r1.seconds:>11.2f}{rw.seconds:>14.2f}{r1.seconds / rw.seconds:>9.2f}x")

    if args.profile:
        print("\nprofile: samplegen mtcnn --size 12 --workers 1 (packed)")
        out = runs / "profile-mtcnn12"
        print(profile_cli(mtcnn_cmd(bench, 12, "packed", 1, out)[3:], runs / "mtcnn12.prof"))
        print("profile: samplegen anchors --method fpn --workers 1")
        print(profile_cli(anchors_cmd(bench, "fpn", 1, runs / "profile-fpn")[3:], runs / "fpn.prof"))

    vs_classic = ours12.images_per_s / old.images_per_s
    vs_floor = ours12.seconds / floor.seconds
    print("\nratios (targets from issue 6; N >= 600 and 2 workers for the mtcnn ones)")
    print(f"  samplegen mtcnn 12 vs classic, images/s:      {vs_classic:6.1f}x  (target >= 10x: {verdict(vs_classic >= 10)})")
    print(f"  samplegen mtcnn 12 time / decode floor time:  {vs_floor:6.2f}x  (target <= 2x: {verdict(vs_floor <= 2)})")
    # Any generator must decode every image once, so classic / floor bounds the first ratio: a
    # tool that did nothing but decode, on these workers, would reach exactly this.
    ceiling = old.seconds / floor.seconds
    print(f"  ceiling: classic time / decode floor time:    {ceiling:6.1f}x  (a decode-only tool's ratio)")
    print(f"  issue 15: samplegen mtcnn 12 / decode floor:  {vs_floor:6.2f}x  (goal <= 1.3x: {verdict(vs_floor <= 1.3)})")
    if args.aittsmd:  # issue 15: the real pipeline, not only a re-implementation
        import bench_aittsmd
        bench_aittsmd.report(bench, args.aittsmd, str(Path(args.aittsmd_python).absolute()), runs / "aittsmd", w,
                             REPEAT[0], floor.seconds)
    vs_mmdet = None
    if per["mmdet"] is not None:
        vs_mmdet = np.mean(per["mmdet"]) / np.mean(per["samplegen"])
        print(f"  anchors fpn per image, mmdet / samplegen:     {vs_mmdet:6.2f}x  (target >= 3x: {verdict(vs_mmdet >= 3)})")
    vs_numpy = np.mean(per["numpy"]) / np.mean(per["samplegen"])
    print(f"  anchors fpn per image, dense numpy / samplegen:{vs_numpy:6.2f}x")
    whole = print_whole_process(per, named["samplegen anchors fpn"], named.get("samplegen anchors fpn, 1 worker"),
                                coco, w)
    shrink = print_npz_bytes(per, runs / "anchors-fpn", coco)
    worst = max(r.worker_rss or r.parent_rss for r in results if r.name.startswith("samplegen"))
    print(f"  largest samplegen worker peak RSS:            {worst / MB:6.0f} MB (target < 500 MB: "
          f"{verdict(worst < 500 * MB)}; flatness: --memory-check)")
    mmdet_text = f"{vs_mmdet:.1f}x mmdet" if vs_mmdet is not None else "mmdet skipped"
    whole_text = f"whole process {whole:.1f}x mmdet labelling" if whole is not None else "whole process: mmdet skipped"
    print(f"SUMMARY N={bench.face_images}+{bench.landmark_images} workers={w}: mtcnn12 {vs_classic:.1f}x classic "
          f"images/s (decode-only ceiling {ceiling:.1f}x), {vs_floor:.2f}x decode-floor time; "
          f"anchors fpn {mmdet_text}, {vs_numpy:.1f}x dense numpy per image, {whole_text}, KEY.npz {shrink:.1f}x "
          f"smaller; worker peak {worst / MB:.0f} MB")


def main_memory(args) -> None:
    """Peak RSS of the parent and the largest worker as N grows.

    mtcnn 12 and 48 (packed; 48 holds the largest crops) and anchors fpn (the largest arrays).
    """
    data = shared_data_dir(args.data)
    cache = Path(args.cache)
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    tasks = (("mtcnn 12", lambda b: samplegen_mtcnn(b, 12, "packed", args.workers, runs)),
             ("mtcnn 48", lambda b: samplegen_mtcnn(b, 48, "packed", args.workers, runs)),
             ("anchors fpn", lambda b: samplegen_anchors(b, "fpn", args.workers, runs)))
    print(f"samplegen memory check: peak RSS MB (parent / largest worker) as N grows, {args.workers} workers")
    print(f"{'N':>6}" + "".join(f"{name:>24}" for name, _ in tasks))
    peaks = []
    for n in args.memory_sizes:
        bench = build_set(data, n, args.seed, cache, log=lambda m: print(m, file=sys.stderr))
        measured = [run(bench) for _, run in tasks]
        peaks.append([r.worker_rss or r.parent_rss for r in measured])
        cells = [f"{fmt_mb(r.parent_rss)} / {fmt_mb(r.worker_rss)} ({r.images_per_s:.0f} img/s)" for r in measured]
        print(f"{n:>6}" + "".join(f"{c:>24}" for c in cells))
    worst = max(max(p) for p in peaks)
    growth = max(peaks[-1][k] / peaks[0][k] for k in range(len(tasks)))
    print(f"SUMMARY memory: largest worker peak {worst / MB:.0f} MB (target < 500 MB: {verdict(worst < 500 * MB)}); "
          f"worker peaks grow at most {growth:.2f}x from N={args.memory_sizes[0]} to N={args.memory_sizes[-1]} "
          f"(flat, < 1.25x: {verdict(growth < 1.25)})")


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=300, help="WIDER images in the set [300]")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for every task [2]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image choice and pixels [0]")
    parser.add_argument("--data", help="shared data folder [$SAMPLEGEN_SHARED_DATA or ../shared/data]")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where sets and runs go [.cache/bench]")
    parser.add_argument("--oracle", help="python of the mmdetection oracle venv [$SAMPLEGEN_ORACLE_PYTHON]")
    parser.add_argument("--oracle-dir", default=str(REPO.parent / "shared" / "oracle"),
                        help="folder holding mmshim.py [../shared/oracle]")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per timed task; the best wall time is kept (shared machine) [3]")
    parser.add_argument("--anchor-images", type=int, default=0,
                        help="images in the per-image anchors comparison [0: every image of the anchors run]")
    parser.add_argument("--coco-images", type=int, default=0,
                        help="COCO128 images in the anchors runs and their comparison [0: all 128]")
    parser.add_argument("--profile", action="store_true", help="add cProfile summaries (mtcnn 12, anchors fpn)")
    parser.add_argument("--memory-check", action="store_true", help="only the peak-memory table as N grows")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[300, 1000, 3000])
    parser.add_argument("--aittsmd", help="AITTSMD/MTCNN-Tensorflow checkout (work tree or bare git): time and compare "
                                          "its P-Net scripts on the same images (scripts/bench_aittsmd.py)")
    parser.add_argument("--aittsmd-python", default=os.environ.get("SAMPLEGEN_AITTSMD_PYTHON", sys.executable),
                        help="interpreter with numpy + cv2 for the AITTSMD scripts [$SAMPLEGEN_AITTSMD_PYTHON or this one]")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_decode"]:
        decode_floor_main(argv[1], int(argv[3]) if len(argv) > 3 else 1)
        return
    if argv[:1] == ["--loaders"]:  # DataLoader throughput (issue 12): scripts/bench_loaders.py
        import bench_loaders
        bench_loaders.main(argv[1:])
        return
    if argv[:1] == ["--detect"]:  # the detection stage (issue 13): scripts/bench_detect.py
        import bench_detect
        bench_detect.main(argv[1:])
        return
    if argv[:1] == ["--scale"]:  # what grows with the input (issue 17): scripts/bench_scale.py
        import bench_scale
        bench_scale.main(argv[1:])
        return
    args = parse_args(argv)
    REPEAT[0] = max(1, args.repeat)
    (main_memory if args.memory_check else main_bench)(args)


if __name__ == "__main__":
    main()
