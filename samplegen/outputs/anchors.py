"""`read_anchors`: the samples of a ``samplegen anchors`` output, and the config it was written with.

``KEY.npz`` holds the sparse form of the labels (`samplegen.anchors.sparse`); `read_anchors` gives
the dense arrays of `label_image` back, bit for bit. Outside samplegen's reader, WebDataset
loaders take `decode_anchor_sample` as their decoder step::

    ray.data.read_webdataset(urls, decoder=[True, samplegen.decode_anchor_sample])
    webdataset.WebDataset(urls).decode().map(samplegen.decode_anchor_sample)

and a plain ``np.load`` of the member densifies with ``dense_arrays(np.load(io.BytesIO(data)))``.
"""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

import cv2
import numpy as np

from samplegen.anchors.sparse import dense_arrays
from samplegen.outputs.shards import output_folder, output_manifest, shard_samples, tar_groups

__all__ = ["decode_anchor_sample", "dense_arrays", "output_method_config", "read_anchors"]


# Keys of an anchors manifest's config that are run choices, not method settings.
RUN_KEYS = ("shards", "with_images", "with_max_iou")


def output_method_config(out_dir: str | Path):
    """The method config an anchors output was written with (rebuilt from its manifest)."""
    from samplegen.anchors.methods import build_method_config
    from samplegen.config.layers import Layered
    from samplegen.config.resolve import ENGINE_KEYS

    out = output_folder(out_dir)
    manifest = output_manifest(out, "anchors")
    values = {k: v for k, v in manifest["config"].items()
              if k not in ENGINE_KEYS and k not in RUN_KEYS}
    where = f"file:{out / 'manifest.json'}"
    return build_method_config(str(values.get("method")), Layered(values, {k: where for k in values}))


def decode_anchor_sample(sample: Mapping[str, Any]) -> dict[str, Any]:
    """A WebDataset sample of an anchors output with its ``npz`` member replaced by the dense
    arrays of `label_image`, one key each (``labels``, ``bbox_targets``, ``gt_boxes``, ...); the
    other members stay as the loader decoded them (``json``, ``jpg``/``png``, ``__key__``).

    `sample["npz"]` may be the member's bytes (Ray Data's default decoder leaves ``.npz``
    alone) or an already loaded mapping of arrays (webdataset's ``.decode()``). Picklable,
    so Ray ships it to its workers.
    """
    out = {k: v for k, v in sample.items() if k != "npz"}
    stored = sample["npz"]
    if isinstance(stored, (bytes, bytearray, memoryview)):
        with np.load(io.BytesIO(bytes(stored))) as archive:
            stored = {name: archive[name] for name in archive.files}
    out.update(dense_arrays(stored))
    return out


def read_anchors(out_dir: str | Path, dense: bool = True) -> Iterator[dict]:
    """Samples of a ``samplegen anchors`` output folder: the label arrays plus ``meta`` (KEY.json)
    and ``key``; ``image`` (the network input, BGR) when written with ``--with-images``.

    Args:
        out_dir: the run's folder (its manifest lists the shards).
        dense: rebuild `label_image`'s dense arrays (`dense_arrays`); False yields the stored
            sparse arrays as they are.
    """
    out = output_folder(out_dir)
    manifest = output_manifest(out, "anchors")
    for shard in manifest["shards"]:
        yield from shard_samples(out, shard, _shard_samples(out / shard["files"][0]["name"], dense))


def _shard_samples(path: Path, dense: bool) -> Iterator[dict]:
    for members in tar_groups(path):
        with np.load(io.BytesIO(members["npz"]), allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in stored.files}
        sample = dense_arrays(arrays) if dense else arrays
        sample["meta"] = json.loads(members["json"])
        sample["key"] = members["__key__"]
        if "jpg" in members:
            sample["image"] = cv2.imdecode(np.frombuffer(members["jpg"], np.uint8), cv2.IMREAD_COLOR)
        yield sample
