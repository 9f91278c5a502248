"""Anchor / point labelling shards: one WebDataset sample per image (issue 4 output contract).

``KEY.npz`` (deflated) holds the arrays of `samplegen.anchors.methods.label_image` in their sparse
form (`samplegen.anchors.sparse`: positives with targets, ignored runs, sampled indices; the dense
``max_iou`` only with ``--with-max-iou``), which `samplegen.outputs.anchors.dense_arrays` turns back
into the dense arrays bit for bit; ``KEY.json`` the source path, method and counts; with images,
``KEY.jpg`` the resized and padded network input. Images are decoded only for ``--with-images``.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from samplegen.anchors.config import MethodConfig
from samplegen.anchors.methods import input_geometry, label_image, method_of
from samplegen.anchors.sparse import sparse_arrays, sparse_counts
from samplegen.engine.images import NO_SIZE
from samplegen.engine.task import ShardResult, ShardTask
from samplegen.pipelines.pixels import record_pixels
from samplegen.record import Record
from samplegen.rng import rng_for
from samplegen.writers.base import ShardFile, shard_name
from samplegen.writers.npz import npz_bytes
from samplegen.writers.tar import TarShardWriter


@dataclass(frozen=True, eq=False)
class AnchorItem:
    """One image: its position in the sorted dataset (the sample key), record and proposals."""

    position: int
    record: Record
    proposals: np.ndarray | None = None


def sample_key(position: int) -> str:
    return f"{position:08d}"


def network_input(pixels: np.ndarray, cfg: MethodConfig) -> np.ndarray:
    """The image resized (keep-ratio or warped) and zero-padded bottom/right as the method trains,
    or the method's own input where it differs (`Method.network_input`: YOLOv5's letterbox)."""
    own = method_of(cfg).network_input
    if own is not None:
        return own(cfg, pixels)
    h, w = pixels.shape[:2]
    g = input_geometry(cfg, w, h)
    resized = cv2.resize(pixels, (g.img_shape[1], g.img_shape[0]), interpolation=cv2.INTER_LINEAR)
    padded = np.zeros((*g.pad_shape, 3), np.uint8)
    padded[:resized.shape[0], :resized.shape[1]] = resized
    return padded


@dataclass(frozen=True)
class AnchorsJob:
    """Label every image of a shard and write its samples (picklable)."""

    finalize_reads_shards = False  # nothing to merge: an object-storage output skips the download

    out_dir: str
    prefix: str
    method: str
    cfg: MethodConfig
    seed: int
    images_root: str | None
    with_images: bool
    with_max_iou: bool = False
    follow_symlinks: bool = False

    def run_shard(self, task: ShardTask) -> ShardResult:
        writer = TarShardWriter(Path(self.out_dir), shard_name(self.prefix, task.index, ".tar"))
        totals: Counter[str] = Counter()
        skipped = []
        for item in task.items:
            members, counts, reason = self._sample(item)
            if members is None:
                skipped.append((item.record.image, reason))
                continue
            writer.add(sample_key(item.position), members)
            totals.update(counts)
        return ShardResult(task.index, tuple(writer.commit()), writer.samples, dict(sorted(totals.items())),
                           len(task.items), tuple(skipped))

    def _sample(self, item: AnchorItem) -> tuple[dict[str, bytes] | None, dict[str, int], str | None]:
        """(members, counts, None) for a labelled image, (None, {}, reason) for a skipped one."""
        record = item.record
        pixels = None
        if self.with_images:
            pixels, reason = record_pixels(record, self.images_root, self.follow_symlinks)
            if pixels is None:
                return None, {}, reason
        width, height = record.width, record.height
        if width is None or height is None:
            if pixels is None:
                return None, {}, NO_SIZE
            height, width = pixels.shape[:2]
        arrays = label_image(record.boxes, record.labels, record.ignore, width, height, self.cfg,
                             rng_for(self.seed, record.key), item.proposals, with_max_iou=self.with_max_iou)
        stored = sparse_arrays(arrays, keep_max_iou=self.with_max_iou)
        counts = sparse_counts(stored)
        meta: dict[str, Any] = {"source": record.image, "method": self.method, "width": width,
                                "height": height, "counts": counts}
        # GTs that do not overlap the image are left out (`drop_outside_gt`, mmdet's rule): say
        # how many, per sample and in the run's totals, rather than lose them silently.
        dropped = len(record.boxes) - len(arrays["gt_boxes"])
        if dropped:
            meta["dropped_gts"] = dropped
            counts = {**counts, "dropped_gts": dropped}
        members = {"npz": npz_bytes(stored, compress=True),
                   "json": json.dumps(meta, separators=(",", ":")).encode()}
        if pixels is not None:
            members["jpg"] = cv2.imencode(".jpg", network_input(pixels, self.cfg),
                                          [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
        return members, counts, None

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        return []
