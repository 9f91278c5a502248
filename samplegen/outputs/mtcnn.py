"""`read_mtcnn`: the samples of a ``samplegen mtcnn`` output, whatever the layout.

The layout and the shard list come from ``manifest.json`` (only complete shards are listed); one
dict per sample, in shard order.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from samplegen.mtcnn.crop_plan import SAMPLE_COLUMNS
from samplegen.mtcnn.labels import CLASS_CODES, CLASS_NAMES, LANDMARK, NEG
from samplegen.outputs.shards import output_manifest, tar_groups


def read_mtcnn(out_dir: str | Path, images: bool = True) -> Iterator[dict]:
    """Samples of a ``samplegen mtcnn`` output folder (packed, wds or list layout).

    Each sample: ``image`` uint8 [S, S, 3] BGR (None with ``images=False``: labels only, no
    decoding), ``cls`` int (1 pos, 0 neg, -1 part, -2 landmark), ``label`` name, ``roi`` float32
    [4], ``landmark`` float32 [10] (zeros where undefined), and for packed/wds also ``crop``,
    ``angle``, ``mirror``, ``iou``, ``gt`` and ``source``.
    """
    out = Path(out_dir)
    manifest = output_manifest(out, "mtcnn")
    layout = manifest["layout"].split(":")[0]
    for shard in manifest["shards"]:
        names = [f["name"] for f in shard["files"]]
        if layout == "packed":
            yield from _packed_samples(out, names, images)
        elif layout == "wds":
            yield from (_wds_sample(members, images) for members in tar_groups(out / names[0]))
        else:
            yield from _list_samples(out, names[0], images)


def _packed_samples(out: Path, names: list[str], decode: bool) -> Iterator[dict]:
    images = np.load(out / names[0], mmap_mode="r")
    labels = np.load(out / names[1])
    columns = {name: labels[name] for name in SAMPLE_COLUMNS}
    sources, source = labels["sources"], labels["source"]
    for row in range(images.shape[0]):
        sample = {name: columns[name][row] for name in SAMPLE_COLUMNS}
        sample["cls"] = int(sample["cls"])
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
            roi = numbers if cls not in (NEG, LANDMARK) else np.zeros(4, np.float32)
            landmark = numbers if cls == LANDMARK else np.zeros(10, np.float32)
            image = cv2.imread(str(out / path), cv2.IMREAD_COLOR) if decode else None
            yield {"image": image, "cls": cls,
                   "label": CLASS_NAMES[cls], "roi": roi, "landmark": landmark, "path": path}
