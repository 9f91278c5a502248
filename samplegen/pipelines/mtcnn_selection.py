"""Plan, then balance: the MTCNN run decided from boxes and image sizes only, in two passes.

1. Pass 1 (planning workers): every image gets its own generator, ``rng_for(seed, item key)``, is
   planned by the pure core (`plan_faces`, `plan_hard` with detections, `plan_landmarks` for the
   landmark source) and only its class counts come back (plus the boxes it was mined with, when
   the worker detected faces itself).
2. `balance` runs over the counts, in sorted key order: per image, which samples of each class
   are kept (their ordinals), exactly meeting the ratio. A large run balances in a pool worker
   (numpy's draw without replacement holds a class's whole population for a moment).
3. Pass 2 (cut workers): `MtcnnItem.plan` plans the image again -- a pure function of seed, key,
   record and detections, so the very same plan -- and keeps the chosen rows.
The parent therefore holds counts and ordinals, not plans (~18.7 KB an image at size 12): the
records stay in the readers' column tables (`PackedRecords`), the items are columns over them
(`MtcnnItems`), the ordinals of the whole run one array (`Balance.packed_ordinals`). Under
1 KB an image in all (``scripts/bench.py --scale``), whatever the number of planned crops.
A small run (under `PARALLEL_PLAN_MIN_IMAGES`)
plans in the parent while the pool starts, and keeps the plans it made within `KEPT_PLAN_BYTES`:
those images carry their kept rows to the cut workers and are not planned twice. The balance
rule is the config's ``balance`` (`samplegen.mtcnn.balance`); a planned sample selected k times
has copy indices 0..k-1 (`MtcnnItem.copies`). The result depends only on the seed and the
inputs, never on worker count, scheduling or which images were planned twice.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from samplegen.datasets.detections import detections_for
from samplegen.engine.distribute import WorkerPool, release_free_memory, run_serial
from samplegen.engine.images import NO_SIZE
from samplegen.mtcnn.balance import Balance, balance, batch_weights
from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.crop_plan import CropPlan, class_counts
from samplegen.mtcnn.labels import CLASS_CODES, CLASS_NAMES, CLASS_ORDER
from samplegen.mtcnn.propose import ignored_as_faces
from samplegen.pipelines.detect import MiningSpec
from samplegen.pipelines.detect_shards import detect_record
from samplegen.pipelines.mined import MinedStore
from samplegen.pipelines.mtcnn_items import FACES, NO_ROWS, ROLES, MtcnnItems, kept_plan, plan_image
from samplegen.record import Record
from samplegen.record_table import PackedRecords, packed_records

PARALLEL_PLAN_MIN_IMAGES = 2000  # below this, planning here (~1,600 images/s) beats starting and feeding workers
MINING_CHUNK = 8                # images per planning task when detecting: ~1 s of work, balanced
KEPT_PLAN_BYTES = 64 << 20      # a pass 1 run here keeps this much of its plans: their images are not re-planned


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

    items: MtcnnItems               # one per usable image, sorted by key, images with no crop kept
    balance: Balance                # its counts (the ordinals are in `items`)
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

    The records stay in their tables (`PackedRecords`, or packed here): the parent holds
    arrays per image, never an object per image (the run's items are `MtcnnItems`).
    """
    tables = (packed_records(ignored_as_faces(r) for r in faces) if cfg.invalid_as_faces else as_table(faces),
              as_table(landmarks))
    skipped: list[tuple[str, str]] = []
    orders = []
    for table in tables:
        sized = table.sized()
        skipped.extend((table.record(int(i)).image, NO_SIZE) for i in np.flatnonzero(~sized))
        orders.append(np.array(sorted(np.flatnonzero(sized).tolist(), key=table.key), np.int64))
    # Item keys are "faces/<key>" and "landmarks/<key>": every face sorts before every landmark.
    roles = np.repeat(np.arange(2, dtype=np.uint8), [len(o) for o in orders])
    rows = np.concatenate(orders)
    del orders
    chunks = _Chunks(tables, roles, rows, cfg, seed, detections, MINING_CHUNK if mining else chunk_size, mining, mined)
    parallel = parallel_planning(len(rows), mining) and (mining is None or len(chunks) > 1)
    if parallel:
        mapped = pool.map(_indexed_count_chunk, chunks)
    else:
        mapped = run_serial(_indexed_count_chunk, chunks) if mining is not None else _plan_here(chunks)
    if mined is not None:
        mapped = _saving(mapped, chunks, mined)
    if progress is not None:
        mapped = _reporting(mapped, chunks, progress)
    counts = np.zeros((len(rows), 4), np.int64)
    reasons: dict[int, str] = {}
    boxes: dict[int, np.ndarray | None] = {}
    full_plans: dict[int, CropPlan] = {}
    for index, results in mapped:
        for position, result in zip(range(*chunks.bounds[index]), results):
            if isinstance(result, str):
                reasons[position] = result
                continue
            counts[position] = result[0]
            if mining is not None:
                boxes[position] = result[1]
            if len(result) > 2 and result[2] is not None:
                full_plans[position] = result[2]
    for position in sorted(reasons):
        skipped.append((tables[roles[position]][int(rows[position])].image, reasons[position]))
    usable = np.ones(len(rows), bool)
    usable[list(reasons)] = False
    positions = np.flatnonzero(usable)
    ratio = tuple(cfg.ratio) if len(tables[1]) else tuple(cfg.ratio[:3]) + (0,)
    task = BalanceTask(counts[usable], ratio, seed, cfg.allow_duplicates,
                       CLASS_ORDER.index(CLASS_CODES[cfg.ratio_base]), cfg.balance_mode, cfg.base)
    del counts
    # The balance's temporaries (numpy's draw without replacement holds the whole population of
    # a class: ~0.7 KB an image) would be the parent's peak: a large run balances in a worker.
    [(chosen, values, ends)] = list(pool.map(balance_ordinals, [task], in_workers=True)) if parallel else \
        [balance_ordinals(task)]
    del task
    def item_of(position: int) -> int:
        return int(np.searchsorted(positions, position))

    items = MtcnnItems(tables, roles[positions], rows[positions], values, ends, cfg, seed, given=detections,
                       mined={item_of(p): b for p, b in boxes.items()} if mining is not None else None)
    if full_plans:   # planned here: the kept rows go with the items (no re-planning)
        items = dataclasses.replace(items, plans={
            item_of(p): kept_plan(plan, *items.ordinals_of(item_of(p))) for p, plan in full_plans.items()})
    del full_plans
    release_free_memory()   # pass 1's results, freed
    base = cfg.base if cfg.balance_mode in ("oversample", "aittsmd") else None   # a preset's base unused by keep
    return PlannedRun(items, chosen, skipped, len(items), ratio, base)


@dataclass(frozen=True)
class BalanceTask:
    """`balance`'s arguments: the usable images' counts int64 [I, 4] and the config's rule."""

    counts: np.ndarray
    ratio: tuple[int, ...]
    seed: int
    allow_duplicates: bool
    base: int
    mode: str
    per_unit: int | None


def balance_ordinals(task: BalanceTask) -> tuple[Balance, np.ndarray, np.ndarray]:
    """The balance's counts and its ordinals packed (`Balance.packed_ordinals`, in the narrowest
    integer types that hold them): the returned `Balance` keeps no ordinals and no offsets (the
    items hold them)."""
    chosen = balance(task.counts, task.ratio, task.seed, task.allow_duplicates, task.base, mode=task.mode,
                     per_unit=task.per_unit)
    values, ends = chosen.packed_ordinals()
    # Sent back to the parent and held there: as narrow as the values allow (an image rarely
    # plans 65,536 samples of one class; a run selects fewer than 2**31).
    values = values.astype(np.uint16) if values.size and values.max() <= np.iinfo(np.uint16).max else values
    ends = ends.astype(np.int32) if ends.size and ends[-1, 3] <= np.iinfo(np.int32).max else ends
    return dataclasses.replace(chosen, chosen=(NO_ROWS,) * 4, offsets=np.zeros((0, 4), np.int64)), values, ends


def as_table(records: Sequence[Record]) -> Sequence[Record]:
    """`records` packed (`PackedRecords`; readers of the large formats already return them)."""
    return records if isinstance(records, PackedRecords) else packed_records(records)


class _Chunks(Sequence[tuple[int, PlanChunk]]):
    """The planning tasks as (index, chunk), built as the pool takes them: windows of
    `chunk_size` consecutive items (in key order), split where the faces end. A mined chunk is
    named by its digest, once, before its images are detected (`MinedStore.digest`); one an
    earlier run mined comes with its saved boxes (`from_saved` lists them)."""

    def __init__(self, tables: tuple, roles: np.ndarray, rows: np.ndarray, cfg: MtcnnConfig, seed: int,
                 detections: Mapping[str, np.ndarray] | None, chunk_size: int, mining: MiningSpec | None,
                 mined: MinedStore | None) -> None:
        self.tables, self.roles, self.rows = tables, roles, rows
        self.cfg, self.seed, self.detections, self.mining, self.mined = cfg, seed, detections, mining, mined
        faces = int(np.count_nonzero(roles == 0))
        cuts = sorted(set(range(0, len(rows), chunk_size)) | ({faces} if 0 < faces < len(rows) else set()))
        self.bounds = list(zip(cuts, cuts[1:] + [len(rows)]))
        self.digests: list[str | None] = [None] * len(self.bounds)
        if mined is not None and mined.enabled and mining is not None:
            self.digests = [mined.digest(self._records(i)) if self._role(i) == FACES else None
                            for i in range(len(self.bounds))]
        self.from_saved: set[int] = set()

    def __len__(self) -> int:
        return len(self.bounds)

    def __getitem__(self, index: int) -> tuple[int, PlanChunk]:
        if not 0 <= index < len(self.bounds):
            raise IndexError(index)
        role, records = self._role(index), self._records(index)
        dets = tuple(detections_for(self.detections, record) if role == FACES and self.detections is not None
                     else None for record in records)
        chunk = PlanChunk(role, records, dets, self.cfg, self.seed, self.mining if role == FACES else None)
        if self.mined is not None and self.digests[index] is not None:
            saved = _from_saved(chunk, self.mined, self.digests[index])
            if saved is not chunk:
                self.from_saved.add(index)
            chunk = saved
        return index, chunk

    def size(self, index: int) -> int:
        lo, hi = self.bounds[index]
        return hi - lo

    def _role(self, index: int) -> str:
        return ROLES[self.roles[self.bounds[index][0]]]

    def _records(self, index: int) -> tuple[Record, ...]:
        lo, hi = self.bounds[index]
        table = self.tables[self.roles[lo]]
        return tuple(table[int(r)] for r in self.rows[lo:hi])


def _plan_here(indexed: Iterable[tuple[int, PlanChunk]]) -> Iterator[tuple[int, list]]:
    """Pass 1 in this process: counts as `count_chunk`, plus each image's plan while the plans
    kept stay under `KEPT_PLAN_BYTES` (then the cut workers need not plan those images again;
    the plans are the same either way, so this changes no byte)."""
    budget = KEPT_PLAN_BYTES
    for index, chunk in indexed:
        results = []
        for record, detections in zip(chunk.records, chunk.detections):
            plan = plan_image(chunk.role, record, chunk.cfg, chunk.seed, detections)
            size = sum(getattr(plan, f.name).nbytes for f in fields(plan))
            keep = budget >= size
            budget -= size if keep else 0
            results.append((class_counts(plan), None, plan if keep else None))
        yield index, results


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


def _saving(mapped: Iterable[tuple[int, list]], chunks: _Chunks, mined: MinedStore) -> Iterator[tuple[int, list]]:
    for index, results in mapped:
        if chunks.mining is not None and chunks.digests[index] is not None and index not in chunks.from_saved:
            mined.save(chunks.digests[index], results)
        yield index, results


def _reporting(mapped: Iterable[tuple[int, list]], chunks: _Chunks,
               progress: Callable[[int], object]) -> Iterator[tuple[int, list]]:
    for index, results in mapped:
        progress(chunks.size(index))
        yield index, results
