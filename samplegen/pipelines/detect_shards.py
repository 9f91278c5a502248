"""Detection shards: the MTCNN cascade over each image of a shard, one JSON line per image.

``PREFIX-000000.jsonl`` holds ``{"image": PATH, "boxes": [[x1, y1, x2, y2, score], ...]}`` per
image in key order (PATH as written in the annotation; the last stage's boxes, best first;
numbers with 9 significant digits, which restore the float32 values exactly), the format
`samplegen mtcnn --detections` reads. Nets are loaded once per worker process
(`samplegen.detect.load_nets`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from samplegen.detect import DetectConfig, NetSpec, detect_faces, load_nets
from samplegen.engine.task import ShardResult, ShardTask
from samplegen.pipelines.pixels import record_pixels
from samplegen.record import Record
from samplegen.writers.base import HashingFile, ShardFile, shard_name

SHARD_SUFFIX = ".jsonl"


def detection_line(image: str, boxes: np.ndarray) -> bytes:
    """One JSON line of `boxes` float32 [N, 5]."""
    rows = ",".join("[" + ",".join(format(float(v), ".9g") for v in row) + "]" for row in boxes)
    return f'{{"image":{json.dumps(image)},"boxes":[{rows}]}}\n'.encode("utf-8")


def detect_record(record: Record, images_root: str | None, nets: NetSpec, cfg: DetectConfig,
                  follow_symlinks: bool = False) -> tuple[np.ndarray | None, str | None]:
    """The last stage's boxes float32 [N, 5] of one record, or (None, skip reason)."""
    pixels, reason = record_pixels(record, images_root, follow_symlinks)
    if pixels is None:
        return None, reason
    result = detect_faces(pixels, load_nets(nets, cfg), cfg)
    return (result.rnet_boxes if result.rnet_boxes is not None else result.pnet_boxes), None


@dataclass(frozen=True)
class DetectJob:
    """Detect every image of a shard and write its JSON lines (picklable: paths and configs only)."""

    finalize_reads_shards = False  # nothing to merge: an object-storage output skips the download

    out_dir: str
    prefix: str
    nets: NetSpec
    cfg: DetectConfig
    images_root: str | None
    follow_symlinks: bool = False

    def run_shard(self, task: ShardTask) -> ShardResult:
        target = HashingFile(Path(self.out_dir) / shard_name(self.prefix, task.index, SHARD_SUFFIX))
        skipped, images, boxes, with_faces = [], 0, 0, 0
        try:
            for record in task.items:
                found, reason = detect_record(record, self.images_root, self.nets, self.cfg, self.follow_symlinks)
                if found is None:
                    skipped.append((record.image, reason))
                    continue
                target.write(detection_line(record.image, found))
                images += 1
                boxes += len(found)
                with_faces += bool(len(found))
            committed = target.commit(Path(self.out_dir))
        except BaseException:
            target.abort()
            raise
        counts = {"boxes": boxes, "images_with_boxes": with_faces}
        return ShardResult(task.index, (committed,), images, counts, len(task.items), tuple(skipped))

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        return []
