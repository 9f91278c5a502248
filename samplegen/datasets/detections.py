"""Previous-stage detections for R-Net/O-Net hard examples, as JSON lines.

One JSON object per line: ``{"image": PATH, "boxes": [[x1, y1, x2, y2, score], ...]}``; a box of
4 values is a proposal without score and gets score 1.0. Blank lines are skipped. Keys of the
result are image keys (backslashes -> ``/``), the same as `Record.key`, so detections pair with
the records of the annotation file. The format is plain JSON on purpose: the public MTCNN
pipelines exchange detections as pickles, and unpickling a file can execute arbitrary code.

`match_detections` says how many entries name an image of the annotations, with an unmatched
example beside the nearest annotation key, for the caller to raise when none do.
"""
from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from samplegen.datasets.lines import MAX_COORDINATE, duplicate_error, quote, read_lines
from samplegen.datasets.paths import image_key
from samplegen.errors import InputError
from samplegen.record import Record


def detections_for(detections: dict[str, np.ndarray], record: Record) -> np.ndarray:
    """The detections of `record` (float32 [N, 5]), by key or by the path as written; [0, 5] if none.

    Both are tried because YOLO records key images relative to the images folder while their
    written path is absolute.
    """
    found = detections.get(record.key, detections.get(record.image))
    return np.zeros((0, 5), np.float32) if found is None else found


@dataclass(frozen=True)
class DetectionMatch:
    """How the entries of a detections file pair with the records of an annotation file.

    Attributes:
        matched: entries whose image is a record's key or path as written (`detections_for`).
        total: entries in the detections file.
        example: the first unmatched entry's image key (None when all match).
        nearest: the annotation key closest to `example` (difflib ratio), or None.
    """

    matched: int
    total: int
    example: str | None
    nearest: str | None

    def message(self) -> str:
        """``0 of 4 detection entries name an image of the annotations (e.g. 'a/x.jpg'; nearest
        annotation key: 'x.jpg')``."""
        text = f"{self.matched:,} of {self.total:,} detection entries name an image of the annotations"
        if self.example is not None:
            text += f" (e.g. {quote(self.example)}"
            text += f"; nearest annotation key: {quote(self.nearest)})" if self.nearest is not None else ")"
        return text


def match_detections(detections: Mapping[str, np.ndarray], records: Sequence[Record]) -> DetectionMatch:
    """Count the detection entries that pair with `records`, with one unmatched example.

    The caller decides what is an error: ``samplegen mtcnn --detections`` refuses
    ``matched == 0`` as ``InputError(detections_path, None, match.message())``.
    """
    names = {record.key for record in records} | {record.image for record in records}
    unmatched = [key for key in detections if key not in names]
    example = unmatched[0] if unmatched else None
    nearest = None
    if example is not None and records:
        keys = sorted({record.key for record in records})
        close = difflib.get_close_matches(example, keys, n=1, cutoff=0.0)
        nearest = close[0] if close else None
    return DetectionMatch(len(detections) - len(unmatched), len(detections), example, nearest)


def read_detections(path: Path) -> dict[str, np.ndarray]:
    """Image key -> float32 [N, 5] boxes ``x1 y1 x2 y2 score`` (continuous), in file order.

    `path` is a JSON-lines file, or a folder: the output of ``samplegen detect`` (its complete
    shards in manifest order; an unfinished run is refused) or any folder of ``*.jsonl`` files
    (read in name order).

    Raises:
        InputError: a line that is not JSON, not an object with ``image`` (string) and ``boxes``
            (list of 4- or 5-number lists), a non-finite value, an image listed twice (in any of
            the files), or an unfinished ``samplegen detect`` folder.
    """
    result: dict[str, np.ndarray] = {}
    first: dict[str, tuple[Path, int]] = {}
    for file in detection_files(Path(path)):
        for number, text in enumerate(read_lines(file), start=1):
            if not text.strip():
                continue
            key, boxes = _parse_line(file, number, text)
            if key in first:
                where, line = first[key]
                raise duplicate_error(file, number, key, line if where == file else f"{where}:{line}")
            first[key] = (file, number)
            result[key] = boxes
    return result


def detection_files(path: Path) -> list[Path]:
    """The JSON-lines files of a detections file or folder (see `read_detections`)."""
    if not path.is_dir():
        return [path]
    manifest = path / "manifest.json"
    if not manifest.is_file():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise InputError(path, None, "no *.jsonl detection files in this folder")
        return files
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(manifest, None, f"unreadable manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("command") != "detect":
        raise InputError(manifest, None, "not the output of samplegen detect")
    if not data.get("complete"):
        raise InputError(path, None, f"an unfinished samplegen detect run ({len(data.get('shards', []))} of "
                                     f"{data.get('planned_shards')} shards); finish it with --resume")
    return [path / f["name"] for shard in data.get("shards", []) for f in shard.get("files", [])]


def _parse_line(path: Path, number: int, text: str) -> tuple[str, np.ndarray]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, number, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InputError(path, number, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise InputError(path, number, f"invalid JSON: {quote(str(exc), 60)}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("image"), str) or not isinstance(obj.get("boxes"), list):
        raise InputError(path, number, 'expected {"image": PATH, "boxes": [[x1, y1, x2, y2, score], ...]}')
    rows = []
    for i, box in enumerate(obj["boxes"]):
        if not isinstance(box, list) or len(box) not in (4, 5) or not all(_is_number(v) for v in box):
            raise InputError(path, number, f"box {i + 1} must be 4 or 5 finite numbers within "
                                           f"±{MAX_COORDINATE:,.0f}, got {quote(box)}")
        rows.append([float(v) for v in box] + ([1.0] if len(box) == 4 else []))
    return image_key(obj["image"]), np.array(rows, np.float32).reshape(-1, 5)


def _is_number(value: object) -> bool:
    # abs() first: math.isfinite of a 400-digit int raises OverflowError.
    if not isinstance(value, (int, float)) or isinstance(value, bool) or abs(value) > MAX_COORDINATE:
        return False
    return math.isfinite(value)
