"""The benchmark's input set: real WIDER / facial-point annotations, synthetic pixels.

No WIDER or facial-point *images* are available to the project (``../shared/data/README.md``), so
the benchmark draws N real WIDER train annotation blocks (and the same share of the real
facial-point list) and synthesises JPEGs with WIDER's geometry and compressibility:

* WIDER images are 1024 px wide; the height is drawn from WIDER's common heights and raised
  to fit every box. Pixels are smooth random blobs plus fine Gaussian noise, and the JPEG
  quality is chosen per image so that every file lands in 100-150 KB, the size of a WIDER
  JPEG: decode cost follows the compressed size, so this is what makes the decode floor real.
* facial-point images are 250 x 250 (LFW's size), larger only where a listed box needs it.

Everything is a pure function of ``(seed, N)``: the chosen blocks are the first N of one seeded
permutation (so a smaller N is a subset of a larger one), and each image's pixels come from a
generator seeded by its own path. Images live in one pool shared by every N; the annotation
files and the record of the choice (``choice.json``) are per N. Nothing is rebuilt when the
files are already there.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
WIDER_FILE = Path("wider") / "wider_face_train_bbx_gt.txt"
FACEPOINT_FILE = Path("facepoint") / "trainImageList.txt"
# The full lists hold 12,880 WIDER images and 10,000 facial-point faces: the benchmark keeps
# that proportion so class balancing behaves as on the full data.
LANDMARK_SHARE = 10000 / 12880
WIDER_WIDTH = 1024
# Common WIDER train heights for a 1024-wide image (3:2, 4:3, 16:9, square, portrait).
WIDER_HEIGHTS = (683, 768, 576, 1024, 1366)
WIDER_HEIGHT_P = (0.40, 0.30, 0.10, 0.10, 0.10)
JPEG_BYTES = (100_000, 150_000)
LANDMARK_SIDE = 250
GENERATOR_VERSION = 1  # bump when the pixels recipe changes: cached images are then rebuilt


def shared_data_dir(explicit: str | None = None) -> Path:
    """``--data``, else ``$SAMPLEGEN_SHARED_DATA``, else ``../shared/data`` beside the repo."""
    found = Path(explicit or os.environ.get("SAMPLEGEN_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not (found / WIDER_FILE).is_file():
        raise SystemExit(f"bench: {found / WIDER_FILE} not found; pass --data or set SAMPLEGEN_SHARED_DATA")
    return found


@dataclass(frozen=True)
class WiderBlock:
    """One image block of the WIDER file, kept as raw lines so it is written back verbatim."""

    path: str
    lines: tuple[str, ...]   # the path line, the count line and its box lines

    def boxes(self) -> np.ndarray:
        """float [K, 4] x1 y1 x2 y2 of the box lines (zero-size and invalid ones included)."""
        rows = [[float(v) for v in line.split()[:4]] for line in self.lines[2:]]
        arr = np.array(rows, np.float64).reshape(-1, 4)
        arr[:, 2:] += arr[:, :2]
        return arr


def read_wider_blocks(path: Path) -> list[WiderBlock]:
    """Split an official-layout WIDER file into blocks (count 0 is followed by one placeholder)."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        count = int(lines[i + 1])
        end = i + 2 + max(count, 1)
        blocks.append(WiderBlock(lines[i].strip(), tuple(lines[i:end])))
        i = end
    return blocks


def _image_rng(seed: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{GENERATOR_VERSION}/{seed}/{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def synthetic_jpeg(rng: np.random.Generator, width: int, height: int, size_range: tuple[int, int] | None,
                   noise: float = 6.0) -> bytes:
    """Smooth random colour blobs plus fine noise, encoded as JPEG.

    With `size_range`, the quality is searched (deterministically) for a file inside the range,
    as close to its middle as the quality steps allow.
    """
    low = rng.integers(0, 256, (max(2, height // 48), max(2, width // 48), 3), dtype=np.uint8)
    img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    img += rng.normal(0.0, noise, (height, width, 3)).astype(np.int16)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if size_range is None:
        return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    target = sum(size_range) / 2
    best: bytes | None = None
    lo, hi = 30, 97
    while lo <= hi:                      # file size grows with quality: bisect on it
        q = (lo + hi) // 2
        data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])[1].tobytes()
        if best is None or abs(len(data) - target) < abs(len(best) - target):
            best = data
        if len(data) < target:
            lo = q + 1
        else:
            hi = q - 1
    return best


def _write_if_missing(path: Path, make) -> None:
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(make())
    tmp.replace(path)


@dataclass(frozen=True)
class BenchSet:
    """Where one N's inputs are, and what they hold."""

    root: Path
    wider_txt: Path
    wider_images: Path
    facepoint_txt: Path
    facepoint_images: Path
    face_images: int
    landmark_images: int
    choice_sha: str

    @property
    def images(self) -> int:
        """Source images every task reads: WIDER ones plus facial-point ones."""
        return self.face_images + self.landmark_images

    def image_paths(self) -> list[Path]:
        """Every source image file, WIDER first (the decode floor's input)."""
        choice = json.loads((self.root / "choice.json").read_text())
        return ([self.wider_images / p for p in choice["wider_images"]]
                + [self.facepoint_images / p for p in choice["facepoint_images"]])


def build_set(data: Path, n: int, seed: int, cache: Path, landmarks: int | None = None,
              log=print) -> BenchSet:
    """Build (or reuse) the N-image set under `cache`; see the module docstring."""
    blocks = read_wider_blocks(data / WIDER_FILE)
    if not 1 <= n <= len(blocks):
        raise SystemExit(f"bench: --images must be in [1, {len(blocks)}]")
    point_lines = [ln for ln in (data / FACEPOINT_FILE).read_text().splitlines() if ln.strip()]
    m = round(n * LANDMARK_SHARE) if landmarks is None else landmarks
    m = max(1, min(m, len(point_lines)))
    order = np.random.default_rng(seed).permutation(len(blocks))
    chosen = sorted(order[:n].tolist())                  # file order, as a user's file would be
    point_order = np.random.default_rng([seed, 1]).permutation(len(point_lines))
    chosen_points = sorted(point_order[:m].tolist())

    pool = cache / f"images-s{seed}-v{GENERATOR_VERSION}"
    root = cache / f"n{n}-m{m}-s{seed}"
    wider_txt, facepoint_txt = root / "wider_face_train_bbx_gt.txt", root / "trainImageList.txt"
    choice = {"seed": seed, "wider_source": str(WIDER_FILE), "facepoint_source": str(FACEPOINT_FILE),
              "wider_indices": chosen, "wider_images": [blocks[i].path for i in chosen],
              "facepoint_lines": chosen_points,
              "facepoint_images": [point_lines[i].split()[0].replace("\\", "/") for i in chosen_points],
              "generator_version": GENERATOR_VERSION}
    text = json.dumps(choice, indent=1)
    sha = hashlib.sha256(text.encode()).hexdigest()[:12]
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "choice.json").is_file() or (root / "choice.json").read_text() != text:
        wider_txt.write_text("".join("\n".join(blocks[i].lines) + "\n" for i in chosen))
        # Lines kept verbatim (backslash paths), with CRLF as in the real file.
        facepoint_txt.write_bytes("".join(point_lines[i] + "\r\n" for i in chosen_points).encode())
        (root / "choice.json").write_text(text)

    missing = [i for i in chosen if not (pool / "wider" / blocks[i].path).is_file()]
    if missing:
        log(f"bench: synthesising {len(missing)} WIDER-sized JPEGs into {pool / 'wider'} (cached)")
    for i in missing:
        block = blocks[i]
        rng = _image_rng(seed, block.path)
        boxes = block.boxes()
        need = int(np.ceil(boxes[:, 3].max())) + 1 if len(boxes) else 1
        height = max(need, int(rng.choice(WIDER_HEIGHTS, p=WIDER_HEIGHT_P)))
        _write_if_missing(pool / "wider" / block.path,
                          lambda: synthetic_jpeg(rng, WIDER_WIDTH, height, JPEG_BYTES))
    for i in chosen_points:
        fields = point_lines[i].split()
        name = fields[0].replace("\\", "/")
        x2, y2 = float(fields[2]), float(fields[4])
        side = max(LANDMARK_SIDE, int(np.ceil(max(x2, y2))) + 1)
        rng = _image_rng(seed, name)
        _write_if_missing(pool / "facepoint" / name, lambda: synthetic_jpeg(rng, side, side, None))
    return BenchSet(root, wider_txt, pool / "wider", facepoint_txt, pool / "facepoint", n, m, sha)
