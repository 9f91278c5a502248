"""Cutting MTCNN shards: decode each image once, cut its chosen crops, write one layout.

Layouts (issue 3), all with the same samples and fields for a given seed:
* ``packed``: ``PREFIX-000000.images.npy`` uint8 [N, S, S, 3] BGR + ``.labels.npz`` columns;
* ``wds``: WebDataset tar, ``KEY.png`` (or ``.jpg``) + ``KEY.json`` per crop;
* ``list``: the classic class folders + ``pos_S.txt``-style lists.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from samplegen.engine.images import image_path, load_image
from samplegen.engine.manifest import ShardResult
from samplegen.engine.plan import ShardTask
from samplegen.jobs.mtcnn_plan import LANDMARKS, MtcnnItem
from samplegen.mtcnn.cut import cut_crops
from samplegen.mtcnn.labels import CLASS_NAMES, CLASS_ORDER, LANDMARK, NEG
from samplegen.mtcnn.plan import CropPlan, class_counts, concat_plans, empty_plan
from samplegen.writers.base import ShardFile, shard_name
from samplegen.writers.lists import ListShardWriter, merge_lists
from samplegen.writers.packed import PackedShardWriter
from samplegen.writers.tar import TarShardWriter

LAYOUTS = ("packed", "wds", "list")
IMAGE_FORMATS = {"png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]),
                 "jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95])}
# Classic layout: one folder and one list per class (AITTSMD's names, B.8).
LIST_FOLDERS = {1: "positive", 0: "negative", -1: "part", -2: "landmark"}
PLAN_COLUMNS = ("cls", "roi", "landmark", "crop", "angle", "mirror", "iou", "gt")


def list_names(size: int) -> list[str]:
    return [f"{CLASS_NAMES[code]}_{size}.txt" for code in LIST_FOLDERS]


@dataclass(frozen=True)
class MtcnnJob:
    """Everything a worker needs to cut shards (picklable, no open handles)."""

    out_dir: str
    prefix: str
    layout: str
    size: int
    pad: bool
    image_format: str
    faces_root: str | None
    landmarks_root: str | None

    def run_shard(self, task: ShardTask) -> ShardResult:
        plans, images, sources, skipped = [], [], [], []
        for item in task.items:
            pixels = self._cut(item, skipped)
            if pixels is None:
                continue
            sources.append(item.record.image)
            plans.append(item.plan)
            images.append(pixels)
        plan = concat_plans(plans) if plans else empty_plan()
        files = self._write(task.index, plans, plan, images, sources)
        per_class = {CLASS_NAMES[code]: int(n) for code, n in zip(CLASS_ORDER, class_counts(plan)) if n}
        return ShardResult(task.index, tuple(files), len(plan), dict(sorted(per_class.items())),
                           len(task.items), tuple(skipped))

    def _cut(self, item: MtcnnItem, skipped: list) -> np.ndarray | None:
        if len(item.plan) == 0:
            return None  # nothing chosen here: do not even decode
        root = self.landmarks_root if item.role == LANDMARKS else self.faces_root
        pixels, reason = load_image(image_path(root, item.record.image))
        if pixels is None:
            skipped.append((item.record.image, reason))
            return None
        return cut_crops(pixels, item.plan, self.size, self.pad)

    def _write(self, index: int, plans: list[CropPlan], plan: CropPlan, batches: list[np.ndarray],
               sources: list[str]) -> list[ShardFile]:
        """Write the shard: per image i, `plans[i]` and its crops `batches[i]` (uint8 [K_i, S, S, 3]);
        `plan` is all of them concatenated and `sources[i]` the image path as written."""
        root = Path(self.out_dir)
        if self.layout == "packed":
            # Image by image: the writer streams the batches, so no shard-wide copy is made.
            writer = PackedShardWriter(root, shard_name(self.prefix, index, ""), (self.size, self.size, 3))
            for i, (part, batch) in enumerate(zip(plans, batches)):
                writer.add_batch(batch, plan_columns(part, np.full(len(part), i, np.int32)))
            return writer.commit(extra={"sources": np.array(sources, dtype=str)},
                                 empty_columns=plan_columns(empty_plan(), np.zeros(0, np.int32)))
        source = np.repeat(np.arange(len(plans), dtype=np.int32), [len(p) for p in plans])
        columns = plan_columns(plan, source)
        crops = np.concatenate(batches) if batches else np.zeros((0, self.size, self.size, 3), np.uint8)
        ext, params = IMAGE_FORMATS[self.image_format]
        if self.layout == "wds":
            tar = TarShardWriter(root, shard_name(self.prefix, index, ".tar"))
            for row in range(len(plan)):
                encoded = cv2.imencode(ext, crops[row], params)[1].tobytes()
                record = sample_json(columns, row, sources)
                tar.add(f"{index:06d}_{row:06d}", {ext[1:]: encoded, "json": record})
            return tar.commit()
        lists = ListShardWriter(root, shard_name(self.prefix, index, ""))
        for row in range(len(plan)):
            code = int(plan.cls[row])
            encoded = cv2.imencode(ext, crops[row], params)[1].tobytes()
            lists.add(f"{CLASS_NAMES[code]}_{self.size}.txt", f"{LIST_FOLDERS[code]}/{row:06d}{ext}",
                      encoded, list_fields(plan, row))
        return lists.commit(list_names(self.size))

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        if self.layout != "list":
            return []
        stems = [shard_name(self.prefix, s.index, "") for s in shards]
        return merge_lists(out_dir, stems, list_names(self.size))


def plan_columns(plan: CropPlan, source: np.ndarray) -> dict[str, np.ndarray]:
    """The per-crop fields written by every layout, plus `source` (index into the shard's images)."""
    return {name: getattr(plan, name) for name in PLAN_COLUMNS} | {"source": source}


def sample_json(columns: dict[str, np.ndarray], row: int, sources: list[str]) -> bytes:
    """The ``KEY.json`` of one crop: the packed fields, ``label`` by name, ``source`` as a path."""
    code = int(columns["cls"][row])
    data = {
        "label": CLASS_NAMES[code], "cls": code,
        "roi": columns["roi"][row].tolist() if code != NEG else None,
        "landmark": columns["landmark"][row].tolist() if code == LANDMARK else None,
        "crop": columns["crop"][row].tolist(), "angle": float(columns["angle"][row]),
        "mirror": bool(columns["mirror"][row]), "iou": float(columns["iou"][row]),
        "gt": int(columns["gt"][row]), "source": sources[int(columns["source"][row])],
    }
    return json.dumps(data, separators=(",", ":")).encode()


def list_fields(plan: CropPlan, row: int) -> str:
    """``cls roi...`` (pos/part), ``cls`` (neg) or ``cls landmark...`` (landmark) as in B.8.

    Values are written with 9 significant digits, enough to restore the float32 exactly.
    """
    code = int(plan.cls[row])
    if code == NEG:
        values = []
    elif code == LANDMARK:
        values = plan.landmark[row].tolist()
    else:
        values = plan.roi[row].tolist()
    return " ".join([str(code)] + [f"{v:.9g}" for v in values])
