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

from samplegen.datasets.paths import image_file
from samplegen.engine.images import load_image
from samplegen.engine.task import ShardResult, ShardTask
from samplegen.mtcnn.crop_plan import SAMPLE_COLUMNS, CropPlan, class_counts, empty_plan
from samplegen.mtcnn.cut import cut_crops
from samplegen.mtcnn.labels import CLASS_NAMES, CLASS_ORDER, LANDMARK, NEG
from samplegen.pipelines.mtcnn_selection import LANDMARKS, MtcnnItem
from samplegen.writers.base import ShardFile, shard_name
from samplegen.writers.lists import ListShardWriter, merge_lists
from samplegen.writers.packed import PackedShardWriter
from samplegen.writers.tar import TarShardWriter

LAYOUTS = ("packed", "wds", "list")
IMAGE_FORMATS = {"png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]),
                 "jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95])}
# Classic layout: one folder and one list per class (AITTSMD's names, B.8).
LIST_FOLDERS = {1: "positive", 0: "negative", -1: "part", -2: "landmark"}


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
        # Each image's crops are written as soon as they are cut, so a worker holds one image's
        # pixels at a time however crowded the shard is.
        sink = _open_sink(self, task.index)
        sources: list[str] = []
        skipped: list = []
        counts = np.zeros(len(CLASS_ORDER), np.int64)
        try:
            for item in task.items:
                pixels = self._cut(item, skipped)
                if pixels is None:
                    continue
                sources.append(item.record.image)
                sink.add(item.plan, pixels, sources)
                counts += class_counts(item.plan)
            files = sink.commit(sources)
        except BaseException:
            sink.abort()
            raise
        per_class = {CLASS_NAMES[code]: int(n) for code, n in zip(CLASS_ORDER, counts) if n}
        return ShardResult(task.index, tuple(files), int(counts.sum()), dict(sorted(per_class.items())),
                           len(task.items), tuple(skipped))

    def _cut(self, item: MtcnnItem, skipped: list) -> np.ndarray | None:
        if len(item.plan) == 0:
            return None  # nothing chosen here: do not even decode
        root = self.landmarks_root if item.role == LANDMARKS else self.faces_root
        pixels, reason = load_image(image_file(root, item.record))
        if pixels is None:
            skipped.append((item.record.image, reason))
            return None
        return cut_crops(pixels, item.plan, self.size, self.pad)

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        if self.layout != "list":
            return []
        stems = [shard_name(self.prefix, s.index, "") for s in shards]
        return merge_lists(out_dir, stems, list_names(self.size))


def plan_columns(plan: CropPlan, source: np.ndarray) -> dict[str, np.ndarray]:
    """The per-crop fields written by every layout, plus `source` (index into the shard's images)."""
    return {name: getattr(plan, name) for name in SAMPLE_COLUMNS} | {"source": source}


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


class _PackedSink:
    """``packed``: crops and their columns, image by image; ``sources`` stored on commit."""

    def __init__(self, job: MtcnnJob, index: int) -> None:
        self.writer = PackedShardWriter(Path(job.out_dir), shard_name(job.prefix, index, ""),
                                        (job.size, job.size, 3))

    def add(self, plan: CropPlan, crops: np.ndarray, sources: list[str]) -> None:
        self.writer.add_batch(crops, plan_columns(plan, np.full(len(plan), len(sources) - 1, np.int32)))

    def commit(self, sources: list[str]) -> list[ShardFile]:
        return self.writer.commit(extra={"sources": np.array(sources, dtype=str)},
                                  empty_columns=plan_columns(empty_plan(), np.zeros(0, np.int32)))

    def abort(self) -> None:
        self.writer.abort()


class _EncodedSink:
    """``wds`` / ``list``: one encoded image per crop, numbered by its row in the shard."""

    def __init__(self, job: MtcnnJob, index: int) -> None:
        self.job, self.index, self.rows = job, index, 0
        self.ext, self.params = IMAGE_FORMATS[job.image_format]
        self.tar = job.layout == "wds"
        root = Path(job.out_dir)
        self.writer = (TarShardWriter(root, shard_name(job.prefix, index, ".tar")) if self.tar
                       else ListShardWriter(root, shard_name(job.prefix, index, "")))

    def add(self, plan: CropPlan, crops: np.ndarray, sources: list[str]) -> None:
        columns = plan_columns(plan, np.full(len(plan), len(sources) - 1, np.int32))
        for k in range(len(plan)):
            row = self.rows + k
            encoded = cv2.imencode(self.ext, crops[k], self.params)[1].tobytes()
            if self.tar:
                self.writer.add(f"{self.index:06d}_{row:06d}", {self.ext[1:]: encoded,
                                                                "json": sample_json(columns, k, sources)})
            else:
                code = int(plan.cls[k])
                self.writer.add(f"{CLASS_NAMES[code]}_{self.job.size}.txt",
                                f"{LIST_FOLDERS[code]}/{row:06d}{self.ext}", encoded, list_fields(plan, k))
        self.rows += len(plan)

    def commit(self, sources: list[str]) -> list[ShardFile]:
        return self.writer.commit() if self.tar else self.writer.commit(list_names(self.job.size))

    def abort(self) -> None:
        self.writer.abort()


def _open_sink(job: MtcnnJob, index: int) -> _PackedSink | _EncodedSink:
    return _PackedSink(job, index) if job.layout == "packed" else _EncodedSink(job, index)
