"""Shared helpers of the end-to-end CLI tests: running the CLI, real-data subsets, file comparison.

Nothing here calls samplegen's own geometry/cutting code: the tests recompute what they check
with independent implementations (see `expected_crop`, `rotate_matrix`).
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from click.testing import CliRunner

import samplegen.cli as sgcli

REPO = Path(__file__).resolve().parents[2]
WIDER_SUBSET_IMAGES = 30


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_inproc(args: list[str], cwd: Path | None = None) -> Result:
    """Run the CLI in this process (click's CliRunner); exceptions propagate (success paths)."""
    sgcli._register()
    runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        res = runner.invoke(sgcli.cli, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)
    return Result(res.exit_code, res.stdout, res.stderr)


def run_cli(args: list[str], cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120) -> Result:
    """`python -m samplegen ARGS` as a subprocess (exit codes and stderr through `main()`)."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONWARNINGS", None)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "samplegen", *[str(a) for a in args]], cwd=cwd,
                          env=full_env, capture_output=True, text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def ok(result: Result) -> dict:
    assert result.code == 0, f"exit {result.code}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-4000:]}"
    return result.json()


class CachedRuns:
    """Each expensive ``samplegen mtcnn`` run once per module, by name, shared by its tests."""

    def __init__(self, base: Path):
        self.base, self.cache = base, {}

    def get(self, name: str, args: list, workers: int = 1) -> tuple[Path, dict]:
        if name not in self.cache:
            out = self.base / name
            self.cache[name] = (out, ok(run_inproc(["mtcnn", *args, "--out", out, "--workers", workers])))
        return self.cache[name]


def popen_cli(args: list, cwd: Path | None = None) -> subprocess.Popen:
    """The CLI in its own process group (so a kill reaches its workers), output discarded."""
    return subprocess.Popen([sys.executable, "-m", "samplegen", *[str(a) for a in args]], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the run and its worker processes, then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def killed_mid_run(args: list, base: Path, planned: int, done: Callable[[Path], int],
                   attempts: int = 4) -> Path | None:
    """The folder of ``samplegen ARGS --workers 2`` killed (SIGKILL to its group) as soon as
    `done(out)` counts a committed shard, when it had committed some but not all `planned` shards;
    None when every attempt finished (or had not begun) before the kill."""
    for attempt in range(attempts):
        out = base / f"killed{attempt}"
        proc = popen_cli([*args, "--workers", 2, "--out", out])
        count, deadline = 0, time.monotonic() + 60
        try:
            while proc.poll() is None and time.monotonic() < deadline and count < 1:
                count = done(out) if out.is_dir() else 0
                time.sleep(0.002)
        finally:
            kill_group(proc)
        if 1 <= count < planned and (out / "manifest.json").exists() and not manifest(out)["complete"]:
            return out
    return None


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under `root`."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tree_digest(root: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    return {k: hashlib.sha256(v).hexdigest() for k, v in tree_bytes(root).items() if k not in exclude}


def manifest(out: Path) -> dict:
    """The run's manifest with the shards recorded since its last checkpoint (`read_manifest`)."""
    from samplegen.engine.manifest import read_manifest

    data = read_manifest(out)
    if data is None:
        raise FileNotFoundError(2, "No such file or directory", str(out / "manifest.json"))
    return data


def changed_keys(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [k for key in sorted(set(a) | set(b)) for k in changed_keys(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".")]


# --------------------------------------------------------------------------------------------
# Real-data subsets


def wider_blocks(path: Path, n: int) -> tuple[list[tuple[str, list[list[int]]]], list[str]]:
    """The first `n` image blocks of an official WIDER file: [(path, box lines as ints)] and
    the text lines they span."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while len(out) < n:
        name = lines[i].strip()
        count = int(lines[i + 1])
        rows = [[int(v) for v in lines[i + 2 + k].split()] for k in range(max(count, 1))]
        out.append((name, rows[:count] if count else []))
        i += 2 + max(count, 1)
    return out, lines[:i]


def make_wider_subset(shared_data: Path, root: Path, n: int = WIDER_SUBSET_IMAGES) -> tuple[Path, Path]:
    """First `n` blocks of the real WIDER train file, verbatim, plus synthesised images.

    Each image is max(1024, max x2 + 1) x max(768, max y2 + 1), textured (smooth random field plus
    per-pixel noise) and stored losslessly under the annotation's own file name: PNG bytes for the
    first 5, BMP bytes (decoded ~100x faster) for the rest; the readers and the decoder sniff the
    format from the header. Returns (annotation file, images root).
    """
    blocks, lines = wider_blocks(shared_data / "wider" / "wider_face_train_bbx_gt.txt", n)
    ann = root / "wider_subset_bbx_gt.txt"
    ann.write_text("\n".join(lines) + "\n")
    images = root / "images"
    rng = np.random.default_rng(1234)
    for number, (name, rows) in enumerate(blocks):
        x2 = max([r[0] + r[2] for r in rows] + [0])
        y2 = max([r[1] + r[3] for r in rows] + [0])
        w, h = max(1024, x2 + 1), max(768, y2 + 1)
        coarse = rng.integers(0, 256, size=(h // 16 + 2, w // 16 + 2, 3), dtype=np.uint8)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        noise = rng.integers(-40, 41, size=(h, w, 3), dtype=np.int16)
        pixels = np.clip(smooth + noise, 0, 255).astype(np.uint8)
        target = images / name
        target.parent.mkdir(parents=True, exist_ok=True)
        encoded = (cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1]) if number < 5
                   else cv2.imencode(".bmp", pixels))[1]
        target.write_bytes(encoded.tobytes())
    return ann, images


def make_coco_subset(shared_data: Path, target: Path, n: int = 8) -> Path:
    """A COCO json with the first `n` images of COCO128 (by id) that have annotations, incl. one crowd image
    and one image without annotations."""
    data = json.loads((shared_data / "coco128" / "annotations" / "instances_train2017.json").read_text())
    by_image: dict[int, list] = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    images = sorted(data["images"], key=lambda im: im["id"])
    crowd = [im for im in images if any(a.get("iscrowd") for a in by_image.get(im["id"], []))][:1]
    empty = [im for im in images if im["id"] not in by_image][:1]
    plain = [im for im in images if im["id"] in by_image and im not in crowd][: n - len(crowd) - len(empty)]
    chosen = sorted(plain + crowd + empty, key=lambda im: im["id"])
    ids = {im["id"] for im in chosen}
    subset = {"images": chosen, "annotations": [a for a in data["annotations"] if a["image_id"] in ids],
              "categories": data["categories"]}
    target.write_text(json.dumps(subset))
    return target


# --------------------------------------------------------------------------------------------
# Independent recomputations (no samplegen geometry code)


def iou_np(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Continuous IoU of one box with boxes [N, 4], in float32 in mmdetection's operation order."""
    box = np.asarray(box, np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    lt = np.maximum(box[None, :2], boxes[:, :2])
    rb = np.minimum(box[None, 2:], boxes[:, 2:])
    wh = np.maximum(rb - lt, np.float32(0))
    inter = wh[:, 0] * wh[:, 1]
    area1 = (box[2] - box[0]) * (box[3] - box[1])
    area2 = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area1 + area2 - inter
    return inter / np.maximum(union, np.float32(1e-6))


def rotate_matrix(center: tuple[float, float], angle: float) -> np.ndarray:
    """OpenCV's rotation about `center` in continuous coordinates."""
    return cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(angle), 1.0)


def expected_crop(image: np.ndarray, crop: np.ndarray, size: int, mirror: bool, angle: float = 0.0,
                  center: tuple[float, float] | None = None, pad: bool = False,
                  plus_one: bool = False) -> np.ndarray:
    """Cut square `crop` (half-open integer box) out of `image` (rotated by `angle` about the
    continuous point `center` first; with `pad`, zeros where the square leaves the frame), resize
    with INTER_LINEAR, flip when `mirror`. `plus_one`: the references' landmark cut
    ``img[y1:y2+1, x1:x2+1]`` instead, which numpy slicing clips at the image's edge."""
    x1, y1, x2, y2 = (int(v) for v in crop)
    source = image
    if angle:
        h, w = image.shape[:2]
        # OpenCV addresses pixel centres at integers: continuous centre c is pixel coordinate c - 0.5
        m = rotate_matrix((center[0] - 0.5, center[1] - 0.5), angle)
        source = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                borderValue=0)
    if pad:
        side = x2 - x1
        h, w = source.shape[:2]
        canvas = np.zeros((h + 2 * side, w + 2 * side, 3), np.uint8)
        canvas[side:side + h, side:side + w] = source
        source = canvas
        x1, y1, x2, y2 = x1 + side, y1 + side, x2 + side, y2 + side
    if plus_one:
        patch = source[y1:y2 + 1, x1:x2 + 1]
    else:
        patch = source[y1:y2, x1:x2]
        assert patch.shape[:2] == (y2 - y1, x2 - x1), "crop leaves the image"
    out = cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)
    return out[:, ::-1] if mirror else out
