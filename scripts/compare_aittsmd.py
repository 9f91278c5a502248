"""samplegen's MTCNN candidate pool against the real AITTSMD/MTCNN-Tensorflow P-Net pipeline (issue 15).

Dev-only. The real scripts (``prepare_data/gen_12net_data.py``, ``gen_landmark_aug_12.py``,
``gen_imglist_pnet.py`` and the helpers they import) are copied from ``--aittsmd`` (a work tree
or a bare git directory; ``git show HEAD:prepare_data/...``) into a temporary folder at run time
and never committed. Their source is not edited: they are laid out where their hard-coded
relative paths look (``../../DATA/...`` from ``prepare_data/``; ``wider_face_train.txt`` and
``trainImageList.txt`` beside them, the images symlinked under ``DATA/``), so no path patching is
needed at all.

Distribution mode (``--aittsmd PATH`` or ``--reference FILE``): each script runs in a child
process that seeds numpy's and Python's global generators (the scripts are unseeded; the seed
only makes a run repeatable), installs pass-through recorders on ``cv2.imread``, ``cv2.imwrite``,
``prepare_data.utils.IoU``, ``random.choice``, ``Landmark_utils.flip`` and
``BBox.projectLandmark`` (each returns exactly what the original returns and draws nothing), and
executes the unmodified file with ``runpy``. The recording gives, for every written crop, its
image and its box; landmark lines are matched to their crop exactly (the recomputed values must
equal the written ones). Per class (pos, neg, part, landmark) it reports the candidate count
and 0.05-bin histograms, in percent of the class, of:

* ``iou``: continuous IoU of the pixels actually cut (half-open box) with the best face of the
  image (faces as read: WIDER ``[x, y, x + w, y + h]``, facial-point ``[x1, y1, x2, y2]``);
* ``rel_size``: longer crop side / longer side of that face (negatives: / ``min(W, H)``);
* ``offset_x``, ``offset_y``: (crop centre - face centre) / face width, height (negatives only
  when they overlap a face).

The samplegen side is either the planned pool (``--samplegen-plan``, library planning on the
same inputs, ``--set key=value`` overrides, ``--seed``) or an output folder
(``--samplegen-out DIR``; candidate counts from its manifest). The verdict: counts within 3 %,
every bin within 1 point.

Inputs: ``--wider``/``--wider-images``/``--facepoints``/``--facepoint-images``, or by default the
benchmark's synthetic set (``scripts/bench_data.py``: ``--images 600 --landmarks 500 --seed 0``).
WIDER boxes with ``w > 0`` and ``h > 0`` are written for AITTSMD as ``path-without-.jpg x y x+w
y+h`` (invalid ones included, as a user's converted file has them); an image without such a box
is left out (the script would fail on ``np.max`` of nothing) and listed in the JSON.

Python: the three scripts need only numpy, cv2 and the standard library (no TensorFlow; their
syntax is Python 3 compatible). Under Python 3 ``/`` is true division where Python 2 floored
integers (see the spec note). A venv with the dev venv's versions::

    python3.11 -m venv .cache/aittsmd-venv
    .cache/aittsmd-venv/bin/pip install numpy==2.4.6 opencv-python-headless==5.0.0.93

Usage::

    python scripts/compare_aittsmd.py --aittsmd MTCNN-Tensorflow --python .cache/aittsmd-venv/bin/python \\
        --write-reference ref.json [--runs 3]
    python scripts/compare_aittsmd.py --reference ref.json --samplegen-plan --set plus_one=true
    python scripts/compare_aittsmd.py --reference ref.json --samplegen-out OUT
    # CI: no real scripts, no pixels (the reference stores the bench choice and every image size)
    python scripts/compare_aittsmd.py --reference ref.json --samplegen-plan --inputs-from-reference [--data DIR]
    python scripts/compare_aittsmd.py --aittsmd MTCNN-Tensorflow --python PY --time [--repeat 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
HELPERS = ("__init__.py", "utils.py", "BBox_utils.py", "Landmark_utils.py")
SCRIPTS = ("gen_12net_data.py", "gen_landmark_aug_12.py", "gen_imglist_pnet.py")
CLASSES = ("pos", "neg", "part", "landmark")
CODES = {"1": "pos", "0": "neg", "-1": "part", "-2": "landmark"}
BIN = 0.05
RANGES = {"iou": (0.0, 1.0), "rel_size": (0.0, 2.5), "offset_x": (-1.0, 1.0), "offset_y": (-1.0, 1.0)}
COUNT_TOL, BIN_TOL = 0.03, 1.0  # issue 15: counts within 3 %, histograms within 1 point per bin
RANDOM_NEGATIVES = 50           # gen_12net_data.py:57, the first 50 negatives of every image


# ------------------------------------------------------------------ inputs and the reference folder

def read_wider(path: Path) -> list[tuple[str, np.ndarray]]:
    """``(image path, float64 [K, 4] x y x+w y+h)`` per block, boxes with w > 0 and h > 0 only."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        name, count = lines[i].strip(), int(lines[i + 1])
        rows = [[float(v) for v in ln.split()[:4]] for ln in lines[i + 2:i + 2 + count]]
        boxes = np.array(rows, np.float64).reshape(-1, 4)
        boxes = boxes[(boxes[:, 2] > 0) & (boxes[:, 3] > 0)]
        boxes[:, 2:] += boxes[:, :2]
        out.append((name, boxes))
        i += 2 + max(count, 1)
    return out


def read_facepoints(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(key, float64 [4] x1 y1 x2 y2, float64 [5, 2] points)`` per line (``x1 x2 y1 y2`` order)."""
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        if f:
            v = [float(x) for x in f[1:15]]
            out.append((f[0].replace("\\", "/"), np.array([v[0], v[2], v[1], v[3]]), np.array(v[4:]).reshape(5, 2)))
    return out


def default_inputs(args) -> dict:
    """The four input paths: explicit ones, else the benchmark's synthetic set (built if missing)."""
    if args.wider:
        return {"wider": args.wider, "wider_images": args.wider_images, "facepoints": args.facepoints,
                "facepoint_images": args.facepoint_images, "set": "explicit"}
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_data import build_set, shared_data_dir
    bench = build_set(shared_data_dir(args.data), args.images, args.seed_set, REPO / ".cache" / "bench",
                      landmarks=args.landmarks, log=lambda m: print(m, file=sys.stderr))
    return {"wider": str(bench.wider_txt), "wider_images": str(bench.wider_images),
            "facepoints": str(bench.facepoint_txt), "facepoint_images": str(bench.facepoint_images),
            "set": f"bench_data n={args.images} m={bench.landmark_images} seed={args.seed_set} choice={bench.choice_sha}",
            "choice": json.loads((bench.root / "choice.json").read_text())}


def inputs_from_reference(reference: dict, data: str | None, work: Path) -> dict:
    """The reference's annotation subsets rebuilt from the shared data, without any pixels.

    The bench set's choice (WIDER block indices, facial-point line indices) and every image's
    size are stored in the reference, so CI can plan with samplegen on the very same records.
    """
    sys.path.insert(0, str(REPO / "scripts"))
    from bench_data import FACEPOINT_FILE, WIDER_FILE, read_wider_blocks, shared_data_dir
    choice, root = reference["inputs"]["choice"], shared_data_dir(data)
    blocks = read_wider_blocks(root / WIDER_FILE)
    points = [ln for ln in (root / FACEPOINT_FILE).read_text().splitlines() if ln.strip()]
    work.mkdir(parents=True, exist_ok=True)
    wider, facepoints = work / "wider_face_train_bbx_gt.txt", work / "trainImageList.txt"
    wider.write_text("".join("\n".join(blocks[i].lines) + "\n" for i in choice["wider_indices"]))
    facepoints.write_bytes("".join(points[i] + "\r\n" for i in choice["facepoint_lines"]).encode())
    return {"wider": str(wider), "wider_images": None, "facepoints": str(facepoints), "facepoint_images": None,
            "set": reference["inputs"]["set"], "sizes": reference["inputs"]["sizes"]}


def reference_sources(path: Path) -> tuple[dict[str, bytes], str | None]:
    """The needed ``prepare_data`` files from a work tree or a bare git directory, and the commit."""
    names = HELPERS + SCRIPTS
    tree = path / "prepare_data"
    git = ["git", "-C", str(path)] if tree.is_dir() else ["git", "--git-dir", str(path)]
    commit = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
    if tree.is_dir():
        return {n: (tree / n).read_bytes() for n in names}, commit
    files = {}
    for n in names:
        done = subprocess.run(git + ["show", f"HEAD:prepare_data/{n}"], capture_output=True)
        if done.returncode:
            raise SystemExit(f"compare_aittsmd: {path} has no prepare_data/{n} ({done.stderr.decode().strip()})")
        files[n] = done.stdout
    return files, commit


def lay_out(work: Path, sources: dict[str, bytes], inputs: dict) -> tuple[Path, list[str]]:
    """The folder the scripts expect; returns (their cwd, WIDER images left out for having no box)."""
    shutil.rmtree(work, ignore_errors=True)
    cwd = work / "MTCNN-Tensorflow" / "prepare_data"
    cwd.mkdir(parents=True)
    for name, data in sources.items():
        (cwd / name).write_bytes(data)
    lines, omitted = [], []
    for name, boxes in read_wider(Path(inputs["wider"])):
        if len(boxes) == 0:
            omitted.append(name)
            continue
        stem = name[:-4] if name.lower().endswith(".jpg") else name
        lines.append(" ".join([stem] + [f"{v:g}" for v in boxes.ravel()]))
    (cwd / "wider_face_train.txt").write_text("\n".join(lines) + "\n")     # gen_12net_data.py:9
    shutil.copyfile(inputs["facepoints"], cwd / "trainImageList.txt")     # gen_landmark_aug_12.py:190
    data = work / "DATA"                                                   # '../../DATA' everywhere
    (data / "WIDER_train").mkdir(parents=True)
    (data / "WIDER_train" / "images").symlink_to(Path(inputs["wider_images"]).resolve())
    for entry in Path(inputs["facepoint_images"]).iterdir():
        (data / entry.name).symlink_to(entry.resolve())
    return cwd, omitted


def run_script(python: str, cwd: Path, script: str, extra: list[str] | None = None) -> float:
    """Run one script (traced when `extra` is given) with its cwd; returns the wall time."""
    env = dict(os.environ, PYTHONPATH=str(cwd.parent))
    cmd = [python, str(Path(__file__).resolve()), "--trace-child", script] + extra if extra else [python, script]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"compare_aittsmd: {script} failed:\n{done.stderr[-3000:]}")
    return secs


# ------------------------------------------------------------------ the traced child

def trace_child(script: str, out: str, seed: int) -> None:
    """Run `script` unmodified with pass-through recorders (module docstring); events to `out`."""
    import random
    import runpy

    import cv2
    sys.path.insert(0, str(Path.cwd().parent))
    import prepare_data.BBox_utils as bbox_utils
    import prepare_data.Landmark_utils as landmark_utils
    import prepare_data.utils as ref_utils

    events: list = []
    crop: list = [None]
    real = {"imread": cv2.imread, "imwrite": cv2.imwrite, "iou": ref_utils.IoU, "choice": random.choice,
            "flip": landmark_utils.flip, "project": bbox_utils.BBox.projectLandmark}
    landmark_run = "landmark" in script

    def imread(path, *a):
        img = real["imread"](path, *a)
        events.append(["read", path, int(img.shape[0]), int(img.shape[1])])
        return img

    def imwrite(path, img, *a):
        events.append(["write", path, crop[0]])
        return real["imwrite"](path, img, *a)

    def iou(box, boxes):
        result = real["iou"](box, boxes)
        crop[0] = [int(v) for v in box[:4]]
        if landmark_run:
            events.append(["iou", crop[0], bool(result > 0.65)])   # the test of gen_landmark_aug_12.py:103
        return result

    def choice(seq):
        value = real["choice"](seq)
        if list(seq) == [0, 1]:
            events.append(["choice", int(value)])
        return value

    def flip(face, landmark):
        result = real["flip"](face, landmark)
        events.append(["flip", np.asarray(result[1]).ravel().tolist()])
        return result

    def project(self, landmark):
        result = real["project"](self, landmark)
        events.append(["project", np.asarray(result).ravel().tolist()])
        return result

    cv2.imread, cv2.imwrite, ref_utils.IoU, random.choice = imread, imwrite, iou, choice
    landmark_utils.flip, bbox_utils.BBox.projectLandmark = flip, project
    np.random.seed(seed)
    random.seed(seed)
    sys.argv = [script]
    runpy.run_path(script, run_name="__main__")
    Path(out).write_text(json.dumps(events))


# ------------------------------------------------------------------ reading the reference outputs

def image_key(path: str, marker: str) -> str:
    return path.replace("\\", "/").split(marker, 1)[1]


def face_samples(events: list, lists: dict[str, list], faces: dict[str, np.ndarray]) -> tuple[list, dict]:
    """``(key, class, crop [4] half-open)`` per crop of gen_12net_data.py, plus counters."""
    samples, shapes, key, neg_in_image = [], {}, None, 0
    random_neg = 0
    for ev in events:
        if ev[0] == "read":
            key = image_key(ev[1], "WIDER_train/images/")
            shapes[key], neg_in_image = (ev[3], ev[2]), 0
        elif ev[0] == "write":
            folder = Path(ev[1]).parent.name
            cls = {"positive": "pos", "part": "part", "negative": "neg"}[folder]
            if cls == "neg":
                neg_in_image += 1
                random_neg += neg_in_image <= RANDOM_NEGATIVES
            samples.append((key, cls, ev[2]))
    counts = {c: sum(1 for s in samples if s[1] == c) for c in ("pos", "neg", "part")}
    if counts != {c: len(v) for c, v in lists.items()}:
        raise SystemExit(f"compare_aittsmd: traced writes {counts} differ from the list files")
    for cls in ("pos", "part"):   # each traced crop must give its line's %.2f offsets to some face
        for (key, _, crop), offsets in zip((s for s in samples if s[1] == cls), lists[cls]):
            side = crop[2] - crop[0]
            got = (faces[key] - np.asarray(crop, np.float64)) / side
            if not (np.abs(got - offsets) <= 0.0051).all(axis=1).any():
                raise SystemExit(f"compare_aittsmd: {cls} crop {crop} of {key} does not give {offsets}")
    return samples, {"shapes": shapes, "random_neg": random_neg, "near_neg": counts["neg"] - random_neg}


def landmark_samples(events: list, faces: list, written: list[list[float]]) -> tuple[list, dict]:
    """``(key, "landmark", crop [4] half-open)`` per written landmark line, matched exactly."""
    groups: list[list] = []
    for ev in events:
        if ev[0] == "read":
            groups.append([])
        elif groups:
            groups[-1].append(ev)
    if len(groups) != len(faces):
        raise SystemExit(f"compare_aittsmd: {len(groups)} faces read, {len(faces)} listed")
    samples, variants, line = [], {}, 0
    for (key, box, points), evs in zip(faces, groups):
        left, top, right, bottom = (int(v) for v in box)   # BBox_utils.getDataFromTxt: int(float)
        gt_w, gt_h = right - left + 1, bottom - top + 1
        if max(gt_w, gt_h) < 40 or left < 0 or top < 0:       # gen_landmark_aug_12.py:82
            continue
        gt = np.stack([(points[:, 0] - left) / (right - left), (points[:, 1] - top) / (bottom - top)], 1)
        entries = [("gt", [left, top, right + 1, bottom + 1], gt.ravel())]
        queue = {k: [e for e in evs if e[0] == k] for k in ("iou", "choice", "flip", "project")}
        draws, flips, projects = iter(queue["choice"]), iter(queue["flip"]), iter(queue["project"])
        for _, (nx1, ny1, nx2, ny2), kept in queue["iou"]:
            if not kept:
                continue
            size = nx2 - nx1
            box_px = [nx1, ny1, nx2 + 1, ny2 + 1]             # img[ny1:ny2+1, nx1:nx2+1]
            base = np.stack([(points[:, 0] - nx1) / np.int64(size), (points[:, 1] - ny1) / np.int64(size)], 1)
            entries.append(("base", box_px, base.ravel()))
            mirror, rot_a, rot_b = (next(draws)[1] for _ in range(3))
            if mirror:
                entries.append(("mirror", box_px, np.array(next(flips)[1])))
            for rotated in (rot_a, rot_b):
                if rotated:
                    entries.append(("rot", box_px, np.array(next(projects)[1])))
                    entries.append(("rot_mirror", box_px, np.array(next(flips)[1])))
        for variant, box_px, values in entries:
            if not ((values > 0) & (values < 1)).all():        # gen_landmark_aug_12.py:159-163
                continue
            if line >= len(written) or not np.allclose(written[line], values, rtol=0, atol=1e-12):
                raise SystemExit(f"compare_aittsmd: landmark line {line + 1} does not match the trace ({key})")
            samples.append((key, "landmark", box_px))
            variants[variant] = variants.get(variant, 0) + 1
            line += 1
    if line != len(written):
        raise SystemExit(f"compare_aittsmd: {len(written) - line} landmark lines left unmatched")
    return samples, variants


def final_list(path: Path) -> dict:
    """Per class of gen_imglist_pnet.py's list: lines, distinct lines, most copies of one line."""
    seen: dict[str, dict[str, int]] = {c: {} for c in CLASSES}
    for ln in path.read_text().splitlines():
        cls = CODES[ln.split()[1]]
        seen[cls][ln] = seen[cls].get(ln, 0) + 1
    return {c: {"lines": sum(d.values()), "distinct": len(d), "max_copies": max(d.values(), default=0)}
            for c, d in seen.items()}


def run_reference(python: str, sources: dict, inputs: dict, work: Path, seed: int) -> dict:
    """One traced run of the three scripts: samples, counts, list composition."""
    cwd, omitted = lay_out(work, sources, inputs)
    traces = {}
    for script in SCRIPTS[:2]:
        out = work / f"{script}.trace.json"
        run_script(python, cwd, script, [str(out), "--trace-seed", str(seed)])
        traces[script] = json.loads(out.read_text())
    run_script(python, cwd, SCRIPTS[2], [str(work / "imglist.trace.json"), "--trace-seed", str(seed)])
    data = work / "DATA" / "12"
    lists = {c: [np.array([float(v) for v in ln.split()[2:]]) for ln in (data / f"{c}_12.txt").read_text().splitlines()]
             for c in ("pos", "neg", "part")}
    faces, info = face_samples(traces[SCRIPTS[0]], lists, faces_by_key(inputs))
    written = [[float(v) for v in ln.split()[2:]] for ln in (data / "landmark_12_aug.txt").read_text().splitlines()]
    marks, variants = landmark_samples(traces[SCRIPTS[1]], read_facepoints(Path(inputs["facepoints"])), written)
    point_shapes = {image_key(ev[1], "DATA/"): (ev[3], ev[2]) for ev in traces[SCRIPTS[1]] if ev[0] == "read"}
    return {"samples": faces + marks, "shapes": info["shapes"] | point_shapes, "omitted": omitted,
            "negatives": {"random": info["random_neg"], "near_face": info["near_neg"]},
            "landmark_variants": variants,
            "final_list": final_list(work / "DATA" / "imglists" / "PNet" / "train_PNet_landmark.txt")}


# ------------------------------------------------------------------ metrics and histograms

def sample_metrics(cls: str, crops: np.ndarray, faces: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float64 [K, 4] iou, rel_size, offset_x, offset_y (NaN where undefined) of crops [K, 4]."""
    k = crops.shape[0]
    out = np.full((k, 4), np.nan)
    if k == 0:
        return out
    if faces.shape[0] == 0:
        out[:, 0] = 0.0
    else:
        lt = np.maximum(crops[:, None, :2], faces[None, :, :2])
        rb = np.minimum(crops[:, None, 2:], faces[None, :, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
        areas = np.prod(crops[:, 2:] - crops[:, :2], 1)[:, None] + np.prod(faces[:, 2:] - faces[:, :2], 1)[None]
        overlaps = inter / (areas - inter)
        arg = overlaps.argmax(1)
        out[:, 0] = overlaps[np.arange(k), arg]
        f = faces[arg]
        fw, fh = f[:, 2] - f[:, 0], f[:, 3] - f[:, 1]
        side = np.maximum(crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1])
        out[:, 1] = side / np.maximum(fw, fh)
        out[:, 2] = ((crops[:, 0] + crops[:, 2]) - (f[:, 0] + f[:, 2])) / 2 / fw
        out[:, 3] = ((crops[:, 1] + crops[:, 3]) - (f[:, 1] + f[:, 3])) / 2 / fh
        if cls == "neg":
            out[out[:, 0] <= 0, 2:] = np.nan
    if cls == "neg":
        out[:, 1] = np.maximum(crops[:, 2] - crops[:, 0], crops[:, 3] - crops[:, 1]) / min(shape)
    return out


def histograms(samples: list, faces: dict, shapes: dict) -> dict:
    """Per class: count and per metric the percentage in each 0.05 bin (values clipped to range)."""
    by: dict[tuple[str, str], list] = {}
    for key, cls, crop in samples:
        by.setdefault((cls, key), []).append(crop)
    values: dict[str, list] = {c: [] for c in CLASSES}
    for (cls, key), crops in by.items():
        values[cls].append(sample_metrics(cls, np.asarray(crops, np.float64), faces[key], shapes.get(key, (0, 0))))
    out = {}
    for cls in CLASSES:
        table = np.concatenate(values[cls]) if values[cls] else np.zeros((0, 4))
        hist = {}
        for j, (name, (lo, hi)) in enumerate(RANGES.items()):
            v = table[:, j][~np.isnan(table[:, j])]
            bins = int(round((hi - lo) / BIN))
            idx = np.clip(np.floor((v - lo) / BIN + 1e-9).astype(np.int64), 0, bins - 1)
            counts = np.bincount(idx, minlength=bins)
            hist[name] = [round(100.0 * c / max(1, v.shape[0]), 4) for c in counts]
        out[cls] = {"count": int(table.shape[0]), "hist": hist}
    return out


def pooled(stats: list[dict]) -> dict:
    """Several runs as one: mean counts, histograms weighted by each run's count."""
    out = {}
    for cls in CLASSES:
        counts = [s[cls]["count"] for s in stats]
        hist = {m: np.average([s[cls]["hist"][m] for s in stats], axis=0, weights=np.maximum(counts, 1)).round(4).tolist()
                for m in RANGES}
        out[cls] = {"count": round(float(np.mean(counts)), 1), "counts": counts, "hist": hist}
    return out


# ------------------------------------------------------------------ the samplegen side

def faces_by_key(inputs: dict) -> dict[str, np.ndarray]:
    faces = {name: boxes for name, boxes in read_wider(Path(inputs["wider"]))}
    for key, box, _ in read_facepoints(Path(inputs["facepoints"])):
        faces[key] = np.vstack([faces.get(key, np.zeros((0, 4))), box[None]])
    return faces


def parse_sets(pairs: list[str]) -> dict:
    """``a.b=value`` pairs -> nested overrides; values read as YAML scalars (true, 0.5, [5, -5])."""
    import yaml
    out: dict = {}
    for pair in pairs:
        dotted, _, value = pair.partition("=")
        node = out
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def samplegen_plan(inputs: dict, overrides: dict, seed: int, omitted: list[str],
                   compat: str | None = None) -> tuple[list, dict, dict]:
    """samplegen's planned pool on the inputs: samples, image shapes and per-class counts.

    `compat` is a ``--compat`` layer (``aittsmd``) under `overrides`. A sample's box is the
    pixels actually cut: one more column and row for landmark rows with ``landmark.cut_plus_one``.
    """
    from samplegen import read_dataset
    from samplegen.mtcnn.config import load_mtcnn_config
    from samplegen.mtcnn.labels import CLASS_NAMES, LANDMARK
    from samplegen.mtcnn.propose import ignored_as_faces
    from samplegen.pipelines.mtcnn_items import FACES, LANDMARKS, plan_image
    cfg, _ = load_mtcnn_config(12, overrides, compat=compat)
    samples, shapes = [], {}
    sources = ((FACES, inputs["wider"], "wider", inputs["wider_images"]),
               (LANDMARKS, inputs["facepoints"], "facepoints", inputs["facepoint_images"]))
    sizes = inputs.get("sizes") or {}
    for role, ann, fmt, root in sources:
        for record in read_dataset(fmt, ann, root).records:
            if record.key in omitted:
                continue
            if record.width is None and record.key in sizes:
                record = dataclasses.replace(record, width=sizes[record.key][0], height=sizes[record.key][1])
            if role == FACES and cfg.invalid_as_faces:
                record = ignored_as_faces(record)
            shapes[record.key] = (int(record.width), int(record.height))
            plan = plan_image(role, record, cfg, seed, None)
            boxes = plan.crop.astype(np.float64)
            if cfg.landmark.cut_plus_one:
                boxes[plan.cls == LANDMARK, 2:] += 1
            samples += [(record.key, CLASS_NAMES[int(c)], b) for c, b in zip(plan.cls, boxes.tolist())]
    return samples, shapes, {c: sum(1 for s in samples if s[1] == c) for c in CLASSES}


def pooled_plans(inputs: dict, overrides: dict, seeds, omitted: list[str], compat: str | None,
                 faces: dict) -> tuple[dict, dict]:
    """`samplegen_plan` for every seed of `seeds`, pooled as the reference pools its runs
    (`pooled`: mean counts, count-weighted histograms): a seed's landmark count alone varies by
    about 2 % on the bench set, as the reference's own runs do."""
    stats = []
    for seed in seeds:
        samples, shapes, _ = samplegen_plan(inputs, overrides, seed, omitted, compat)
        stats.append(histograms(samples, faces, shapes))
    both = pooled(stats)
    return both, {c: both[c]["count"] for c in CLASSES}


def samplegen_output(out_dir: str, inputs: dict) -> tuple[list, dict, dict]:
    """An output folder's samples (balanced: duplicates included) and its planned counts."""
    from samplegen import read_dataset, read_mtcnn
    from samplegen.outputs.shards import output_manifest
    shapes = {}
    for fmt, ann, root in (("wider", inputs["wider"], inputs["wider_images"]),
                           ("facepoints", inputs["facepoints"], inputs["facepoint_images"])):
        shapes.update({r.key: (int(r.width), int(r.height)) for r in read_dataset(fmt, ann, root).records})
    samples = [(s["source"].replace("\\", "/"), s["label"], np.asarray(s["crop"], np.float64).tolist())
               for s in read_mtcnn(out_dir, images=False)]
    available = output_manifest(Path(out_dir), "mtcnn").get("plan", {}).get("available")
    return samples, shapes, available or {c: sum(1 for s in samples if s[1] == c) for c in CLASSES}


# ------------------------------------------------------------------ comparison

def compare(reference: dict, stats: dict, counts: dict) -> tuple[list[str], bool]:
    """Report lines per class (counts, largest gap per metric) and whether all are within tolerance."""
    lines, ok = [f"{'class':9} {'reference':>10} {'samplegen':>10} {'diff':>7}   largest gap per 0.05 bin (points)"], True
    for cls in CLASSES:
        ref, got = reference[cls], stats[cls]
        ref_n, n = float(ref["count"]), float(counts.get(cls, got["count"]))
        diff = (n - ref_n) / ref_n if ref_n else (0.0 if n == 0 else float("inf"))
        gaps = []
        for m in RANGES:
            delta = np.abs(np.subtract(ref["hist"][m], got["hist"][m]))
            j = int(delta.argmax())
            gaps.append((m, float(delta[j]), RANGES[m][0] + j * BIN))
        good = abs(diff) <= COUNT_TOL and all(g <= BIN_TOL for _, g, _ in gaps)
        ok &= good
        text = "  ".join(f"{m} {g:.2f}@[{lo:.2f},{lo + BIN:.2f})" for m, g, lo in gaps)
        lines.append(f"{cls:9} {ref_n:10.0f} {n:10.0f} {100 * diff:+6.1f}%   {text}  {'ok' if good else 'OFF'}")
    return lines, ok


def samplegen_cmd(inputs: dict, out: Path, workers: int = 2) -> list[str]:
    """``samplegen mtcnn --size 12`` (packed) on the same inputs, as the bench runs it."""
    return [sys.executable, "-m", "samplegen", "mtcnn", "--size", "12", "--annotations", inputs["wider"],
            "--format", "wider", "--images", inputs["wider_images"], "--landmarks", inputs["facepoints"],
            "--landmark-format", "facepoints", "--landmark-images", inputs["facepoint_images"],
            "--layout", "packed", "--out", str(out), "--workers", str(workers), "--no-progress", "--overwrite"]


def time_reference(aittsmd: str, inputs: dict, python: str, work: Path, repeat: int = 1,
                   samplegen: bool = False, workers: int = 2) -> dict:
    """Wall time of the three unmodified, untraced scripts on `inputs` (best and all of `repeat`).

    With `samplegen`, a ``samplegen mtcnn --size 12`` run (packed, `workers` workers) is timed after each
    reference run (interleaved, so both see the same machine load) and the ratio of the best
    times is reported. The bench imports this to report samplegen against the real pipeline.
    """
    sources, commit = reference_sources(Path(aittsmd))
    runs, ours = [], []
    for _ in range(repeat):
        cwd, _ = lay_out(work, sources, inputs)
        runs.append({s: round(run_script(python, cwd, s), 3) for s in SCRIPTS})
        runs[-1]["total"] = round(sum(runs[-1].values()), 3)
        if samplegen:
            start = time.perf_counter()
            subprocess.run(samplegen_cmd(inputs, work / "samplegen", workers), check=True, cwd=REPO, stdout=subprocess.DEVNULL)
            ours.append(round(time.perf_counter() - start, 3))
    best = min(runs, key=lambda r: r["total"])
    out = {"commit": commit, "python": python, "best": best, "runs": runs}
    if samplegen:
        out |= {"samplegen_s": ours, "ratio_best": round(best["total"] / min(ours), 2)}
    return out


def write_json(path: Path, doc: dict) -> None:
    """`doc` indented, with every list of numbers on one line (a histogram, a size) for short diffs."""
    text = json.dumps(doc, indent=1)
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    path.write_text(text + "\n")


def build_reference(aittsmd: str, python: str, inputs: dict, work: Path, runs: int) -> dict:
    """The reference document: `runs` traced runs (seeds 0..runs-1) pooled, with provenance."""
    sources, commit = reference_sources(Path(aittsmd))
    faces, stats, details, omitted, sizes = faces_by_key(inputs), [], [], [], {}
    for seed in range(runs):
        run = run_reference(python, sources, inputs, work, seed)
        stats.append(histograms(run["samples"], faces, run["shapes"]))
        details.append({k: run[k] for k in ("negatives", "landmark_variants", "final_list")})
        omitted, sizes = run["omitted"], {k: list(v) for k, v in sorted(run["shapes"].items())}
    versions = subprocess.run([python, "-c", "import sys, numpy, cv2; print(sys.version.split()[0], "
                               "numpy.__version__, cv2.__version__)"], capture_output=True, text=True)
    return {"source": "AITTSMD/MTCNN-Tensorflow", "commit": commit, "scripts": list(SCRIPTS),
            "python_numpy_cv2": versions.stdout.strip(), "inputs": {"set": inputs["set"], "omitted_images": omitted, "sizes": sizes,
                       # the indices are enough to rebuild the subsets (inputs_from_reference)
                       "choice": {k: v for k, v in (inputs.get("choice") or {}).items() if not k.endswith("_images")}},
            "bins": {m: [lo, hi, BIN] for m, (lo, hi) in RANGES.items()}, "classes": pooled(stats), "runs": details}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--aittsmd", help="MTCNN-Tensorflow work tree or bare git directory: run the real scripts")
    p.add_argument("--python", default=os.environ.get("SAMPLEGEN_AITTSMD_PYTHON", sys.executable),
                   help="interpreter with numpy + cv2 for the real scripts [$SAMPLEGEN_AITTSMD_PYTHON or this one]")
    p.add_argument("--reference", help="reference JSON written by --write-reference (instead of --aittsmd)")
    p.add_argument("--write-reference", help="write the reference histograms (JSON) here")
    p.add_argument("--runs", type=int, default=1, help="reference runs with seeds 0..N-1, pooled [1]")
    p.add_argument("--samplegen-plan", action="store_true", help="compare samplegen's planned pool")
    p.add_argument("--samplegen-out", help="compare a samplegen mtcnn output folder")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="samplegen config override")
    p.add_argument("--compat", choices=("aittsmd", "dface"), help="samplegen --compat layer for --samplegen-plan")
    p.add_argument("--seed", type=int, default=0, help="samplegen seed for --samplegen-plan [0]")
    p.add_argument("--seeds", type=int, default=1,
                   help="--samplegen-plan: pool this many seeds from --seed on, as the reference pools its runs [1]")
    p.add_argument("--time", action="store_true", help="time the three untraced scripts (needs --aittsmd)")
    p.add_argument("--repeat", type=int, default=1, help="timed runs; the best total is reported [1]")
    p.add_argument("--with-samplegen", action="store_true", help="--time: also time samplegen mtcnn 12, interleaved")
    p.add_argument("--work", default=str(REPO / ".cache" / "compare_aittsmd"), help="scratch folder")
    for name in ("wider", "wider-images", "facepoints", "facepoint-images"):
        p.add_argument(f"--{name}")
    p.add_argument("--data", help="shared data folder for the default bench set")
    p.add_argument("--images", type=int, default=600, help="bench set: WIDER images [600]")
    p.add_argument("--landmarks", type=int, default=500, help="bench set: facial-point faces [500]")
    p.add_argument("--seed-set", type=int, default=0, help="bench set: seed of the choice and pixels [0]")
    p.add_argument("--inputs-from-reference", action="store_true",
                   help="--reference --samplegen-plan: rebuild its annotation subset from --data, sizes from the JSON (no pixels)")
    p.add_argument("--trace-child", nargs=2, metavar=("SCRIPT", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--trace-seed", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if os.sep in args.python:
        args.python = os.path.abspath(args.python)   # the scripts run in another cwd; keep venv symlinks
    if args.trace_child:
        trace_child(args.trace_child[0], args.trace_child[1], args.trace_seed)
        return 0
    work = Path(args.work).absolute()
    if args.inputs_from_reference:
        if not (args.reference and args.samplegen_plan):
            p.error("--inputs-from-reference needs --reference and --samplegen-plan")
        inputs = inputs_from_reference(json.loads(Path(args.reference).read_text()), args.data, work / "inputs")
    else:
        inputs = default_inputs(args)
    if args.time:
        if not args.aittsmd:
            p.error("--time needs --aittsmd")
        print(json.dumps(time_reference(args.aittsmd, inputs, args.python, work / "time", args.repeat,
                                        args.with_samplegen)))
        return 0
    if args.aittsmd:
        reference = build_reference(args.aittsmd, args.python, inputs, work / "trace", args.runs)
        if args.write_reference:
            write_json(Path(args.write_reference), reference)
    elif args.reference:
        reference = json.loads(Path(args.reference).read_text())
    else:
        p.error("give --aittsmd PATH or --reference FILE")
    for cls in CLASSES:
        print(f"reference {cls}: {reference['classes'][cls]['count']} candidates", file=sys.stderr)
    if not (args.samplegen_plan or args.samplegen_out):
        print(json.dumps({c: reference["classes"][c]["count"] for c in CLASSES} | {"runs": reference["runs"]}))
        return 0
    omitted = reference["inputs"].get("omitted_images", [])
    faces = faces_by_key(inputs)
    if args.samplegen_out:
        samples, shapes, counts = samplegen_output(args.samplegen_out, inputs)
        stats = histograms(samples, faces, shapes)
    else:
        stats, counts = pooled_plans(inputs, parse_sets(args.set), range(args.seed, args.seed + args.seeds),
                                     omitted, args.compat, faces)
    lines, ok = compare(reference["classes"], stats, counts)
    print("\n".join(lines))
    print(f"verdict: {'within' if ok else 'NOT within'} {COUNT_TOL:.0%} counts and {BIN_TOL:g} point per bin")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
