"""Plan, then balance: the MTCNN run decided from boxes and image sizes only, in two passes.

1. Pass 1 (planning workers): every image gets its own generator, ``rng_for(seed, item key)``, is
   planned by the pure core (`plan_faces`, `plan_hard` with detections, `plan_landmarks` for the
   landmark source) and only its class counts come back (plus the boxes it was mined with, when
   the worker detected faces itself).
2. The parent runs `balance` over the counts, in sorted key order: per image, which samples of
   each class are kept (their ordinals), exactly meeting the ratio.
3. Pass 2 (cut workers): `MtcnnItem.plan` plans the image again -- a pure function of seed, key,
   record and detections, so the very same plan -- and keeps the chosen rows.
The parent therefore holds counts and ordinals, not plans (~18.7 KB an image at size 12), the
ordinals of the whole run in one int32 array (`Balance.packed_ordinals`): its memory does not grow
with the planned crops. A small run (under `PARALLEL_PLAN_MIN_IMAGES`)
plans in the parent while the pool starts, and keeps the plans it made within `KEPT_PLAN_BYTES`:
those images carry their kept rows to the cut workers and are not planned twice. The balance
rule is the config's ``balance`` (`samplegen.mtcnn.balance`); a planned sample selected k times
has copy indices 0..k-1 (`MtcnnItem.copies`). The result depends only on the seed and the
inputs, never on worker count, scheduling or which images were planned twice.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field, fields
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from samplegen.datasets.detections import detections_for
from samplegen.engine.distribute import WorkerPool, release_free_memory, run_serial
from samplegen.engine.images import NO_SIZE
from samplegen.mtcnn.balance import Balance, balance, batch_weights, copy_index, kept_rows
from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.crop_plan import CropPlan, class_counts, select
from samplegen.mtcnn.hard import plan_hard
from samplegen.mtcnn.labels import CLASS_CODES, CLASS_NAMES, CLASS_ORDER
from samplegen.mtcnn.landmarks import plan_landmarks
from samplegen.mtcnn.propose import ignored_as_faces, plan_faces
from samplegen.pipelines.detect import MiningSpec
from samplegen.pipelines.detect_shards import detect_record
from samplegen.pipelines.mined import MinedStore
from samplegen.record import Record
from samplegen.rng import rng_for

FACES = "faces"
LANDMARKS = "landmarks"
PARALLEL_PLAN_MIN_IMAGES = 2000  # below this, planning here (~1,600 images/s) beats starting and feeding workers
MINING_CHUNK = 8                # images per planning task when detecting: ~1 s of work, balanced
KEPT_PLAN_BYTES = 64 << 20      # a pass 1 run here keeps this much of its plans: their images are not re-planned
NO_ROWS = np.zeros(0, np.int32)


def item_key(role: str, record: Record) -> str:
    return f"{role}/{record.key}"


def plan_image(role: str, record: Record, cfg: MtcnnConfig, seed: int, detections: np.ndarray | None) -> CropPlan:
    """The full plan of one image: the same in pass 1 and pass 2 (seeded by its item key)."""
    rng = rng_for(seed, item_key(role, record))
    if role == LANDMARKS:
        return plan_landmarks(record, cfg, rng)
    if detections is not None:
        return plan_hard(record, detections, cfg, rng)
    return plan_faces(record, cfg, rng)


@dataclass(frozen=True, eq=False, slots=True)   # slots: the parent holds one per image
class MtcnnItem:
    """One image's share of the run: where its pixels are and which of its planned crops to cut.

    `key` is ``"faces/<record key>"`` or ``"landmarks/<record key>"`` so the two sources never
    collide; `role` tells which images root the path is under. `ordinals` are, per class in
    `CLASS_ORDER`, the kept samples of that class in plan order (a repeat is a duplicate), kept
    as one int32 array, `kept`, cut at `class_ends` (a view of the run's `packed_ordinals`);
    `detections` the previous stage's boxes the plan was made from (None for PNet-style plans).
    `given_plan` is an explicit plan to cut instead (callers that planned themselves, tests;
    pass 1 run in the parent, within `KEPT_PLAN_BYTES`), `given_copies` its copy indices.
    """

    key: str
    role: str
    record: Record
    cfg: MtcnnConfig | None = None
    seed: int = 0
    detections: np.ndarray | None = None
    kept: np.ndarray = field(default_factory=lambda: NO_ROWS)
    class_ends: tuple[int, int, int, int] = (0, 0, 0, 0)
    given_plan: CropPlan | None = None
    given_copies: np.ndarray | None = None

    @property
    def ordinals(self) -> tuple[np.ndarray, ...]:
        """Per class in `CLASS_ORDER`, the within-image ordinals of the kept samples (int32)."""
        return tuple(np.split(self.kept, self.class_ends[:3]))

    @property
    def plan(self) -> CropPlan:
        """The kept rows of the image's plan (pass 2: planned again, see the module docstring)."""
        return self.given_plan if self.given_plan is not None else _kept(self)[0]

    @property
    def copies(self) -> np.ndarray:
        """int32 [len(plan)]: 0 for the first selection of a planned sample, k for its k-th
        further copy (the ``dup`` field of the duplicating balance modes)."""
        if self.given_plan is None:
            return _kept(self)[1]
        return self.given_copies if self.given_copies is not None else np.zeros(len(self.given_plan), np.int32)


@functools.lru_cache(maxsize=4)
def _kept(item: MtcnnItem) -> tuple[CropPlan, np.ndarray]:
    # A cut worker reads `plan` a few times per image: a tiny cache, so re-planning happens once
    # and a long shard does not accumulate plans.
    full = plan_image(item.role, item.record, item.cfg, item.seed, item.detections)
    rows = kept_rows(full.cls, list(item.ordinals))
    return select(full, rows), copy_index(rows)


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
    # A chunk an earlier run mined (`MinedStore`): its boxes are `detections`, and these are
    # the reasons of the images it could not mine (None for the others).
    mined_reasons: tuple[str | None, ...] | None = None


def count_chunk(chunk: PlanChunk) -> list[tuple[np.ndarray, np.ndarray | None] | str]:
    """Pass 1 of a chunk (runs in workers): per image, its class counts int64 [4] and, when mined
    (here or by an earlier run), the boxes it was planned from; an image that could not be mined
    (missing, undecodable) gives its reason."""
    out: list[tuple[np.ndarray, np.ndarray | None] | str] = []
    mined = chunk.mining is not None or chunk.mined_reasons is not None
    for i, (record, detections) in enumerate(zip(chunk.records, chunk.detections)):
        if chunk.mined_reasons is not None and chunk.mined_reasons[i] is not None:
            out.append(chunk.mined_reasons[i])
            continue
        if chunk.role == FACES and chunk.mining is not None:
            m = chunk.mining
            detections, reason = detect_record(record, m.images_root, m.nets, m.cfg, m.follow_symlinks)
            if detections is None:
                out.append(reason)
                continue
        plan = plan_image(chunk.role, record, chunk.cfg, chunk.seed, detections)
        out.append((class_counts(plan), detections if mined else None))
    return out


@dataclass(frozen=True)
class PlannedRun:
    """Everything decided before pixels are touched."""

    items: list[MtcnnItem]          # one per usable image, sorted by key, images with no crop kept
    balance: Balance
    skipped: list[tuple[str, str]]  # (image, reason) not planned
    planned_images: int
    ratio: tuple[int, int, int, int]  # the ratio balanced to, in CLASS_ORDER
    base: int | None = None           # the balance's samples per ratio unit (the ``base`` key)

    def starved(self) -> list[str]:
        """Classes the ratio asks for that no image provided, when that empties the whole
        selection although other classes were planned (e.g. every landmark image missing)."""
        if self.balance.targets.sum() or not self.balance.available.sum():
            return []
        return [CLASS_NAMES[c] for c, share, n in zip(CLASS_ORDER, self.ratio, self.balance.available)
                if share > 0 and n == 0]

    def counts(self) -> dict:
        """The plan's counts (the manifest's ``plan``, the dry run's output); a mode other than
        ``exact`` adds ``balance``: its name, base, ratio and, for ``keep``, the per-sample
        ``weights`` per class that draw batches in the ratio (`batch_weights`)."""
        available = {CLASS_NAMES[c]: int(n) for c, n in zip(CLASS_ORDER, self.balance.available)}
        out = {"planned_images": self.planned_images, "available": available,
               "selected": self.balance.totals(),
               "duplicates": {CLASS_NAMES[c]: int(n) for c, n in zip(CLASS_ORDER, self.balance.duplicates)},
               "skipped_images": len(self.skipped)}
        if self.balance.mode != "exact":
            out["balance"] = {"mode": self.balance.mode, "base": self.base, "ratio": list(self.ratio)}
            if self.balance.mode == "keep":
                weights = batch_weights(self.balance.available, self.ratio)
                out["balance"]["weights"] = {CLASS_NAMES[c]: float(w) for c, w in zip(CLASS_ORDER, weights)}
        return out


def parallel_planning(images: int, mining: MiningSpec | None) -> bool:
    """Whether pass 1 runs on the pool: `PARALLEL_PLAN_MIN_IMAGES` images or more, or mining
    (detection costs ~0.1 s an image). Smaller runs plan here while the pool starts (`run_mtcnn`)."""
    return images >= PARALLEL_PLAN_MIN_IMAGES or mining is not None


def plan_run(faces: Sequence[Record], landmarks: Sequence[Record], cfg: MtcnnConfig, seed: int,
             pool: WorkerPool, detections: Mapping[str, np.ndarray] | None = None,
             chunk_size: int = 200, mining: MiningSpec | None = None,
             progress: Callable[[int], object] | None = None, mined: MinedStore | None = None) -> PlannedRun:
    """Count every usable image's plan (pass 1), balance globally, and give each image its kept
    ordinals (the module docstring).

    Pass 1 runs on `pool` when there are at least `PARALLEL_PLAN_MIN_IMAGES` images, or always
    when faces are mined here (`mining`: detection costs ~0.1 s an image, so chunks are small).
    Images that cannot be used (no size; missing or undecodable while mining) are skipped and
    listed with their reason. `progress` is called with the number of images of each planned
    chunk as it comes back (mining is most of a hard-example run's time). With `mined`, the
    chunks it holds are planned from their saved boxes and each chunk detected here is saved
    there as it comes back (a killed run resumes without detecting those images again).
    """
    entries, skipped = [], []
    if cfg.invalid_as_faces:
        faces = [ignored_as_faces(record) for record in faces]
    for role, records in ((FACES, faces), (LANDMARKS, landmarks)):
        for record in records:
            if record.width is None or record.height is None:
                skipped.append((record.image, NO_SIZE))
            else:
                entries.append((item_key(role, record), role, record))
    entries.sort(key=lambda entry: entry[0])
    chunks = _chunks(entries, cfg, seed, detections, MINING_CHUNK if mining else chunk_size, mining)
    # Each mined chunk's digest once, before its images are detected (`MinedStore.digest`).
    digests = [mined.digest(c.records) if mined is not None and mined.enabled and c.mining is not None else None
               for c in chunks]
    if mined is not None:
        chunks = [_from_saved(chunk, mined, digest) for chunk, digest in zip(chunks, digests)]
    indexed = list(enumerate(chunks))
    parallel = parallel_planning(len(entries), mining) and (mining is None or len(chunks) > 1)
    if parallel:
        mapped = pool.map(_indexed_count_chunk, indexed)
    else:
        mapped = run_serial(_indexed_count_chunk, indexed) if mining is not None else _plan_here(indexed)
    if mined is not None:
        mapped = _saving(mapped, chunks, mined, digests)
    if progress is not None:
        mapped = _reporting(mapped, chunks, progress)
    counted: dict[str, tuple | str] = {}
    for chunk, results in zip(chunks, _ordered(mapped)):
        for record, result in zip(chunk.records, results):
            counted[item_key(chunk.role, record)] = result
    usable = []
    for key, role, record in entries:
        result = counted.pop(key)
        if isinstance(result, str):
            skipped.append((record.image, result))
            continue
        given = detections_for(detections, record) if role == FACES and detections is not None else None
        usable.append((key, role, record, result[0], result[1] if mining is not None else given,
                       result[2] if len(result) > 2 else None))
    counts = np.array([u[3] for u in usable], np.int64).reshape(-1, 4)
    ratio = tuple(cfg.ratio) if landmarks else tuple(cfg.ratio[:3]) + (0,)
    chosen = balance(counts, ratio, seed, cfg.allow_duplicates, CLASS_ORDER.index(CLASS_CODES[cfg.ratio_base]),
                     mode=cfg.balance_mode, per_unit=cfg.base)
    values, ends = chosen.packed_ordinals()
    starts = np.concatenate([[0], ends[:-1, 3]]).astype(np.int64)
    items = [_item(key, role, record, cfg, seed, dets, values[start:end[3]], tuple((end - start).tolist()), plan)
             for (key, role, record, _, dets, plan), start, end in zip(usable, starts.tolist(), ends)]
    del usable, values
    chosen = dataclasses.replace(chosen, chosen=(NO_ROWS,) * 4)   # in the items now; the parent keeps counts
    release_free_memory()   # pass 1's results, freed
    base = cfg.base if cfg.balance_mode in ("oversample", "aittsmd") else None   # a preset's base unused by keep
    return PlannedRun(items, chosen, skipped, len(items), ratio, base)


def _item(key: str, role: str, record: Record, cfg: MtcnnConfig, seed: int, detections: np.ndarray | None,
          kept: np.ndarray, class_ends: tuple[int, int, int, int], plan: CropPlan | None) -> MtcnnItem:
    """The image's item; with its full `plan` at hand, the kept rows go with it (no re-planning)."""
    item = MtcnnItem(key, role, record, cfg, seed, detections, kept, class_ends)
    if plan is None:
        return item
    rows = kept_rows(plan.cls, list(item.ordinals))
    return dataclasses.replace(item, given_plan=select(plan, rows), given_copies=copy_index(rows))


def _plan_here(indexed: list[tuple[int, PlanChunk]]) -> list[tuple[int, list]]:
    """Pass 1 in this process: counts as `count_chunk`, plus each image's plan while the plans
    kept stay under `KEPT_PLAN_BYTES` (then the cut workers need not plan those images again;
    the plans are the same either way, so this changes no byte)."""
    budget = KEPT_PLAN_BYTES
    out = []
    for index, chunk in indexed:
        results = []
        for record, detections in zip(chunk.records, chunk.detections):
            plan = plan_image(chunk.role, record, chunk.cfg, chunk.seed, detections)
            size = sum(getattr(plan, f.name).nbytes for f in fields(plan))
            keep = budget >= size
            budget -= size if keep else 0
            results.append((class_counts(plan), None, plan if keep else None))
        out.append((index, results))
    return out


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


def _indexed_count_chunk(indexed: tuple[int, PlanChunk]) -> tuple[int, list]:
    index, chunk = indexed
    return index, count_chunk(chunk)


def _from_saved(chunk: PlanChunk, mined: MinedStore, digest: str | None) -> PlanChunk:
    """`chunk` planned from the boxes an earlier run mined, when `mined` holds them."""
    found = mined.load(digest, len(chunk.records)) if digest is not None else None
    if found is None:
        return chunk
    return dataclasses.replace(chunk, mining=None, detections=tuple(None if isinstance(f, str) else f for f in found),
                               mined_reasons=tuple(f if isinstance(f, str) else None for f in found))


def _saving(mapped: Iterable[tuple[int, list]], chunks: Sequence[PlanChunk], mined: MinedStore,
            digests: Sequence[str | None]) -> Iterator[tuple[int, list]]:
    for index, results in mapped:
        if chunks[index].mining is not None and digests[index] is not None:
            mined.save(digests[index], results)
        yield index, results


def _reporting(mapped: Iterable[tuple[int, list]], chunks: Sequence[PlanChunk],
               progress: Callable[[int], object]) -> Iterator[tuple[int, list]]:
    for index, results in mapped:
        progress(len(chunks[index].records))
        yield index, results


def _ordered(results) -> list[list]:
    collected = dict(results)
    return [collected[i] for i in range(len(collected))]
