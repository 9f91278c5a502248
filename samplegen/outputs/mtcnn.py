"""`read_mtcnn`: the samples of a ``samplegen mtcnn`` output, whatever the layout.

The layout and the shard list come from ``manifest.json`` (only complete shards are listed); one
dict per sample, in shard order (for ``tfrecord``, the shard files' own seeded record order).

Channel order: every layout's images come back as uint8 [S, S, 3] in the order asked for
(``channels="bgr"``, the default and the order of the stored arrays, or ``"rgb"``), whatever the
layout stores: packed arrays and TFRecord bytes are in the manifest's ``channel_order`` (BGR),
PNG/JPEG files are decoded by OpenCV (BGR).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from samplegen.errors import ConfigError
from samplegen.mtcnn.crop_plan import SAMPLE_COLUMNS
from samplegen.mtcnn.labels import CLASS_CODES, CLASS_NAMES, LANDMARK, NEG
from samplegen.outputs.shards import output_folder, output_manifest, shard_samples, tar_groups
from samplegen.writers.tf_example import parse_example
from samplegen.writers.tfrecord import read_records

CHANNELS = ("bgr", "rgb")
STORED_CHANNELS = "bgr"
"""The order of stored arrays in outputs whose manifest records none (all written before it did)."""


def stored_channel_order(manifest: dict) -> str:
    """The channel order of a run's stored pixel arrays: the manifest's ``channel_order`` (top
    level, or under ``plan`` where the run recorded it), else `STORED_CHANNELS`."""
    order = manifest.get("channel_order") or manifest.get("plan", {}).get("channel_order") or STORED_CHANNELS
    if order not in CHANNELS:
        raise ConfigError(f"manifest channel_order must be one of {CHANNELS}, got {order!r}")
    return order


def read_mtcnn(out_dir: str | Path, images: bool = True, channels: str = "bgr") -> Iterator[dict]:
    """Samples of a ``samplegen mtcnn`` output folder (packed, wds, list or tfrecord layout).

    Each sample: ``image`` uint8 [S, S, 3] in `channels` order (``"bgr"`` or ``"rgb"``; None
    with ``images=False``: labels only, no decoding), ``cls`` int (1 pos, 0 neg, -1 part, -2
    landmark), ``label`` name, ``roi`` float32 [4], ``landmark`` float32 [10] (zeros where
    undefined), and for packed/wds also ``crop``, ``angle``, ``mirror``, ``iou``, ``gt`` and
    ``source``; list samples carry ``path``, tfrecord samples ``record`` (``FILE#INDEX``).
    """
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}, got {channels!r}")
    out = output_folder(out_dir)
    manifest = output_manifest(out, "mtcnn")
    layout = manifest["layout"].split(":")[0]
    flip = channels != (STORED_CHANNELS if layout in ("wds", "list") else stored_channel_order(manifest))
    for shard in manifest["shards"]:
        names = [f["name"] for f in shard["files"]]
        if layout == "packed":
            samples = _packed_samples(out, names, images)
        elif layout == "wds":
            samples = (_wds_sample(members, images) for members in tar_groups(out / names[0]))
        elif layout == "tfrecord":
            samples = _tfrecord_samples(out, names, images)
        else:
            samples = _list_samples(out, names[0], images)
        for sample in shard_samples(out, shard, samples):
            if flip and sample["image"] is not None:
                sample["image"] = np.ascontiguousarray(sample["image"][..., ::-1])
            yield sample


def _packed_samples(out: Path, names: list[str], decode: bool) -> Iterator[dict]:
    images = np.load(out / names[0], mmap_mode="r")
    labels = np.load(out / names[1])
    columns = {name: labels[name] for name in SAMPLE_COLUMNS}
    sources, source = labels["sources"], labels["source"]
    dup = labels["dup"] if "dup" in labels else None      # duplicating balance modes only
    for row in range(images.shape[0]):
        sample = {name: columns[name][row] for name in SAMPLE_COLUMNS}
        sample["cls"] = int(sample["cls"])
        if dup is not None:
            sample["dup"] = int(dup[row])
        sample.update(image=np.array(images[row]) if decode else None, label=CLASS_NAMES[sample["cls"]],
                      source=str(sources[source[row]]))
        yield sample


def _wds_sample(members: dict, decode: bool) -> dict:
    meta = json.loads(members["json"])
    encoded = members.get("png", members.get("jpg"))
    sample = {k: v for k, v in meta.items() if k not in ("roi", "landmark")}
    sample["roi"] = np.asarray(meta["roi"] or [0.0] * 4, np.float32)
    sample["landmark"] = np.asarray(meta["landmark"] or [0.0] * 10, np.float32)
    sample["image"] = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR) if decode else None
    sample["key"] = members["__key__"]
    return sample


def _list_samples(out: Path, stem: str, decode: bool) -> Iterator[dict]:
    for list_file in sorted((out / stem).glob("*.txt"), key=lambda p: CLASS_CODES[p.name.split("_")[0]]):
        for line in list_file.read_text(encoding="utf-8").splitlines():
            path, code, *values = line.split()
            cls = int(code)
            numbers = np.asarray([float(v) for v in values], np.float32)
            roi, landmark = _list_targets(cls, numbers)
            image = cv2.imread(str(out / path), cv2.IMREAD_COLOR) if decode else None
            yield {"image": image, "cls": cls,
                   "label": CLASS_NAMES[cls], "roi": roi, "landmark": landmark, "path": path}


def _list_targets(cls: int, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(roi [4], landmark [10]) of a list line's numbers: 4 roi (pos/part), 10 points (classic
    and aittsmd landmark lines) or 4 roi + 10 points (dface landmark lines)."""
    zeros_roi, zeros_landmark = np.zeros(4, np.float32), np.zeros(10, np.float32)
    if cls == NEG:
        return zeros_roi, zeros_landmark
    if cls != LANDMARK:
        return numbers, zeros_landmark
    return (numbers[:4], numbers[4:]) if numbers.size == 14 else (zeros_roi, numbers)


def _tfrecord_samples(out: Path, names: list[str], decode: bool) -> Iterator[dict]:
    for name in names:
        for index, payload in enumerate(read_records(out / name)):
            example = parse_example(payload)
            cls = int(example["image/label"][0])
            image = None
            if decode:
                raw = np.frombuffer(example["image/encoded"][0], np.uint8)
                size = math.isqrt(raw.size // 3)
                image = raw.reshape(size, size, 3).copy()
            yield {"image": image, "cls": cls, "label": CLASS_NAMES[cls],
                   "roi": example["image/roi"].astype(np.float32),
                   "landmark": example["image/landmark"].astype(np.float32), "record": f"{name}#{index}"}
