"""Reading what samplegen wrote, whatever the layout: `read_mtcnn` and `read_anchors`.

Both find the layout and the shard list in ``manifest.json`` (only complete shards are listed)
and yield one dict per sample, in shard order.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from samplegen.engine.manifest import read_manifest
from samplegen.errors import ConfigError
from samplegen.mtcnn.crop_plan import SAMPLE_COLUMNS
from samplegen.mtcnn.labels import CLASS_CODES, CLASS_NAMES, LANDMARK, NEG



def _manifest(out_dir: Path, command: str) -> dict:
    manifest = read_manifest(Path(out_dir))
    if manifest is None or manifest.get("command") != command:
        raise ConfigError(f"{out_dir}: no samplegen {command} output (manifest.json missing or of another command)")
    return manifest


def read_mtcnn(out_dir: str | Path, images: bool = True) -> Iterator[dict]:
    """Samples of a ``samplegen mtcnn`` output folder (packed, wds or list layout).

    Each sample: ``image`` uint8 [S, S, 3] BGR (None with ``images=False``: labels only, no
    decoding), ``cls`` int (1 pos, 0 neg, -1 part, -2 landmark), ``label`` name, ``roi`` float32
    [4], ``landmark`` float32 [10] (zeros where undefined), and for packed/wds also ``crop``,
    ``angle``, ``mirror``, ``iou``, ``gt`` and ``source``.
    """
    out = Path(out_dir)
    manifest = _manifest(out, "mtcnn")
    layout = manifest["layout"].split(":")[0]
    for shard in manifest["shards"]:
        names = [f["name"] for f in shard["files"]]
        if layout == "packed":
            yield from _packed_samples(out, names, images)
        elif layout == "wds":
            yield from (_wds_sample(members, images) for members in _tar_groups(out / names[0]))
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


def output_method_config(out_dir: str | Path):
    """The method config an anchors output was written with (rebuilt from its manifest)."""
    from samplegen.anchors.methods import build_method_config
    from samplegen.config.layers import Layered
    from samplegen.config.resolve import ENGINE_KEYS

    out = Path(out_dir)
    manifest = _manifest(out, "anchors")
    values = {k: v for k, v in manifest["config"].items() if k not in ENGINE_KEYS and k != "with_images"}
    where = f"file:{out / 'manifest.json'}"
    return build_method_config(str(values.get("method")), Layered(values, {k: where for k in values}))


def read_anchors(out_dir: str | Path) -> Iterator[dict]:
    """Samples of a ``samplegen anchors`` output folder: the npz arrays plus ``meta`` (KEY.json)
    and ``key``; ``image`` (the network input, BGR) when written with ``--with-images``."""
    out = Path(out_dir)
    manifest = _manifest(out, "anchors")
    for shard in manifest["shards"]:
        for members in _tar_groups(out / shard["files"][0]["name"]):
            sample = dict(np.load(io.BytesIO(members["npz"])))
            sample["meta"] = json.loads(members["json"])
            sample["key"] = members["__key__"]
            if "jpg" in members:
                sample["image"] = cv2.imdecode(np.frombuffer(members["jpg"], np.uint8), cv2.IMREAD_COLOR)
            yield sample


def _tar_groups(path: Path) -> Iterator[dict]:
    with tarfile.open(path) as archive:
        group: dict = {}
        for member in archive:
            key, _, ext = member.name.partition(".")
            if group and group["__key__"] != key:
                yield group
                group = {}
            group["__key__"] = key
            group[ext] = archive.extractfile(member).read()
        if group:
            yield group
