"""Plan, then balance: the MTCNN run decided from boxes and image sizes only (no pixels).

1. Every image gets its own generator, ``rng_for(seed, item key)``, and is planned by the pure
   core (`plan_faces`, `plan_hard` with detections, `plan_landmarks` for the landmark source).
2. `balance` chooses, over the whole dataset in sorted key order, exactly the samples that meet
   the ratio; each image keeps the chosen rows of its plan.
Planning is spread over the workers in chunks of images when there are enough of them to pay for
starting a pool (~2,000 images plan per second per core); the result depends only on the seed and
the inputs, never on worker count or scheduling.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from samplegen.datasets.detections import detections_for
from samplegen.pipelines.detect import MiningSpec
from samplegen.pipelines.detect_shards import detect_record
from samplegen.engine.distribute import WorkerPool, run_serial
from samplegen.engine.images import NO_SIZE
from samplegen.mtcnn.balance import Balance, balance
from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.hard import plan_hard
from samplegen.mtcnn.labels import CLASS_CODES, CLASS_NAMES, CLASS_ORDER
from samplegen.mtcnn.landmarks import plan_landmarks
from samplegen.mtcnn.crop_plan import CropPlan, class_counts, select
from samplegen.mtcnn.propose import plan_faces
from samplegen.record import Record
from samplegen.rng import rng_for

FACES = "faces"
LANDMARKS = "landmarks"
PARALLEL_PLAN_MIN_IMAGES = 500  # below this, planning (~2,000 images/s) is not worth shipping records
MINING_CHUNK = 8                # images per planning task when detecting: ~1 s of work, balanced


@dataclass(frozen=True, eq=False)
class MtcnnItem:
    """One image's share of the run: where its pixels are and which crops to cut.

    `key` is ``"faces/<record key>"`` or ``"landmarks/<record key>"`` so the two sources never
    collide; `role` tells which images root the path is under.
    """

    key: str
    role: str
    record: Record
    plan: CropPlan


@dataclass(frozen=True)
class PlanChunk:
    """A picklable planning task: records of one role with their detections (or None), and for
    hard examples mined here the nets to detect with (`mining`: the face images are decoded and
    detected in the planning worker, and no detections file is written)."""

    role: str
    records: tuple[Record, ...]
    detections: tuple[np.ndarray | None, ...]
    cfg: MtcnnConfig
    seed: int
    mining: MiningSpec | None = None


def item_key(role: str, record: Record) -> str:
    return f"{role}/{record.key}"


def plan_chunk(chunk: PlanChunk) -> list[CropPlan | str]:
    """Plans of a chunk of images, each from its own generator (runs in workers); an image that
    could not be mined (missing, undecodable) gives its skip reason instead of a plan."""
    plans: list[CropPlan | str] = []
    for record, detections in zip(chunk.records, chunk.detections):
        rng = rng_for(chunk.seed, item_key(chunk.role, record))
        if chunk.role == FACES and chunk.mining is not None:
            m = chunk.mining
            detections, reason = detect_record(record, m.images_root, m.nets, m.cfg)
            if detections is None:
                plans.append(reason)
                continue
        if chunk.role == LANDMARKS:
            plans.append(plan_landmarks(record, chunk.cfg, rng))
        elif detections is not None:
            plans.append(plan_hard(record, detections, chunk.cfg, rng))
        else:
            plans.append(plan_faces(record, chunk.cfg, rng))
    return plans


@dataclass(frozen=True)
class PlannedRun:
    """Everything decided before pixels are touched."""

    items: list[MtcnnItem]          # selected crops per image, sorted by key, images with no crop kept
    balance: Balance
    skipped: list[tuple[str, str]]  # (image, reason) not planned
    planned_images: int
    ratio: tuple[int, int, int, int]  # the ratio balanced to, in CLASS_ORDER

    def starved(self) -> list[str]:
        """Classes the ratio asks for that no image provided, when that empties the whole
        selection although other classes were planned (e.g. every landmark image missing)."""
        if self.balance.targets.sum() or not self.balance.available.sum():
            return []
        return [CLASS_NAMES[c] for c, share, n in zip(CLASS_ORDER, self.ratio, self.balance.available)
                if share > 0 and n == 0]

    def counts(self) -> dict:
        available = {CLASS_NAMES[c]: int(n) for c, n in zip(CLASS_ORDER, self.balance.available)}
        return {"planned_images": self.planned_images, "available": available,
                "selected": self.balance.totals(),
                "duplicates": {CLASS_NAMES[c]: int(n) for c, n in zip(CLASS_ORDER, self.balance.duplicates)},
                "skipped_images": len(self.skipped)}


def plan_run(faces: Sequence[Record], landmarks: Sequence[Record], cfg: MtcnnConfig, seed: int,
             pool: WorkerPool, detections: Mapping[str, np.ndarray] | None = None,
             chunk_size: int = 200, mining: MiningSpec | None = None) -> PlannedRun:
    """Plan every usable image, balance globally, and keep each image's chosen rows.

    Planning runs on `pool` when there are at least `PARALLEL_PLAN_MIN_IMAGES` images, or always
    when faces are mined here (`mining`: detection costs ~0.1 s an image, so chunks are small).
    Images that cannot be used (no size; missing or undecodable while mining) are skipped and
    listed with their reason.
    """
    entries, skipped = [], []
    for role, records in ((FACES, faces), (LANDMARKS, landmarks)):
        for record in records:
            if record.width is None or record.height is None:
                skipped.append((record.image, NO_SIZE))
            else:
                entries.append((item_key(role, record), role, record))
    entries.sort(key=lambda entry: entry[0])
    chunks = _chunks(entries, cfg, seed, detections, MINING_CHUNK if mining else chunk_size, mining)
    indexed = list(enumerate(chunks))
    parallel = len(entries) >= PARALLEL_PLAN_MIN_IMAGES or (mining is not None and len(chunks) > 1)
    mapped = pool.map(_indexed_plan_chunk, indexed) if parallel else run_serial(_indexed_plan_chunk, indexed)
    plans_by_key: dict[str, CropPlan | str] = {}
    for chunk, plans in zip(chunks, _ordered(mapped)):
        for record, plan in zip(chunk.records, plans):
            plans_by_key[item_key(chunk.role, record)] = plan
    usable = []
    for key, role, record in entries:
        plan = plans_by_key[key]
        if isinstance(plan, str):
            skipped.append((record.image, plan))
        else:
            usable.append((key, role, record, plan))
    counts = np.array([class_counts(plan) for *_, plan in usable], np.int64).reshape(-1, 4)
    ratio = tuple(cfg.ratio) if landmarks else tuple(cfg.ratio[:3]) + (0,)
    chosen = balance(counts, ratio, seed, cfg.allow_duplicates, CLASS_ORDER.index(CLASS_CODES[cfg.ratio_base]))
    items = [MtcnnItem(key, role, record, select(plan, chosen.rows(i, plan.cls)))
             for i, (key, role, record, plan) in enumerate(usable)]
    return PlannedRun(items, chosen, skipped, len(usable), ratio)


def _chunks(entries: list, cfg: MtcnnConfig, seed: int, detections: Mapping[str, np.ndarray] | None,
            chunk_size: int, mining: MiningSpec | None) -> list[PlanChunk]:
    """Planning tasks of `chunk_size` consecutive entries, split by role."""
    chunks = []
    for start in range(0, len(entries), chunk_size):
        role_chunks: dict[str, list] = {}
        for _, role, record in entries[start:start + chunk_size]:
            role_chunks.setdefault(role, []).append(record)
        for role, records in role_chunks.items():
            dets = tuple(detections_for(detections, record) if role == FACES and detections is not None
                         else None for record in records)
            chunks.append(PlanChunk(role, tuple(records), dets, cfg, seed, mining if role == FACES else None))
    return chunks


def _indexed_plan_chunk(indexed: tuple[int, PlanChunk]) -> tuple[int, list[CropPlan | str]]:
    index, chunk = indexed
    return index, plan_chunk(chunk)


def _ordered(results) -> list[list[CropPlan | str]]:
    collected = dict(results)
    return [collected[i] for i in range(len(collected))]
