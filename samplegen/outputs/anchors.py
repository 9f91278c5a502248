"""`read_anchors`: the samples of a ``samplegen anchors`` output, and the config it was written with."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from samplegen.outputs.shards import output_manifest, tar_groups


def output_method_config(out_dir: str | Path):
    """The method config an anchors output was written with (rebuilt from its manifest)."""
    from samplegen.anchors.methods import build_method_config
    from samplegen.config.layers import Layered
    from samplegen.config.resolve import ENGINE_KEYS

    out = Path(out_dir)
    manifest = output_manifest(out, "anchors")
    values = {k: v for k, v in manifest["config"].items() if k not in ENGINE_KEYS and k != "with_images"}
    where = f"file:{out / 'manifest.json'}"
    return build_method_config(str(values.get("method")), Layered(values, {k: where for k in values}))


def read_anchors(out_dir: str | Path) -> Iterator[dict]:
    """Samples of a ``samplegen anchors`` output folder: the npz arrays plus ``meta`` (KEY.json)
    and ``key``; ``image`` (the network input, BGR) when written with ``--with-images``."""
    out = Path(out_dir)
    manifest = output_manifest(out, "anchors")
    for shard in manifest["shards"]:
        for members in tar_groups(out / shard["files"][0]["name"]):
            sample = dict(np.load(io.BytesIO(members["npz"])))
            sample["meta"] = json.loads(members["json"])
            sample["key"] = members["__key__"]
            if "jpg" in members:
                sample["image"] = cv2.imdecode(np.frombuffer(members["jpg"], np.uint8), cv2.IMREAD_COLOR)
            yield sample
