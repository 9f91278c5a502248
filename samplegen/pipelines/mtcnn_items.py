"""What a cut worker gets per image (`MtcnnItem`), and the run's items kept as columns (`MtcnnItems`).

An item is an image's record, where its pixels are and which of its planned crops to keep; the
cut worker plans the image again (`plan_image`, a pure function of seed, key, record and
detections) and keeps those rows. The parent holds one for every usable image of the run: as
objects, ~400 bytes each (the item, its key, a view of the ordinals, a tuple) on top of the
record. `MtcnnItems` keeps them as arrays over the readers' `PackedRecords` instead and builds an
item when one is asked for; a slice is a view, and a pickled slice is the tuple of its items, so
a shard task carries its own images only.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Iterator, Mapping, overload

import numpy as np

from samplegen.datasets.detections import detections_for
from samplegen.engine.task import OrderedItems
from samplegen.mtcnn.balance import copy_index, kept_rows
from samplegen.mtcnn.config import MtcnnConfig
from samplegen.mtcnn.crop_plan import CropPlan, select
from samplegen.mtcnn.hard import plan_hard
from samplegen.mtcnn.landmarks import plan_landmarks
from samplegen.mtcnn.propose import plan_faces
from samplegen.record import Record
from samplegen.record_table import PackedRecords
from samplegen.rng import rng_for

FACES = "faces"
LANDMARKS = "landmarks"
ROLES = (FACES, LANDMARKS)   # `MtcnnItems.roles` codes; "faces/..." sorts before "landmarks/..."
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


@dataclass(frozen=True, eq=False, slots=True)
class MtcnnItem:
    """One image's share of the run: where its pixels are and which of its planned crops to cut.

    `key` is ``"faces/<record key>"`` or ``"landmarks/<record key>"`` so the two sources never
    collide; `role` tells which images root the path is under. `ordinals` are, per class in
    `CLASS_ORDER`, the kept samples of that class in plan order (a repeat is a duplicate), kept
    as one int32 array, `kept`, cut at `class_ends` (a view of the run's packed ordinals);
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
        """The kept rows of the image's plan (planned again unless given)."""
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
    return kept_plan(plan_image(item.role, item.record, item.cfg, item.seed, item.detections), item.kept,
                     item.class_ends)


def kept_plan(plan: CropPlan, kept: np.ndarray, class_ends: tuple[int, int, int, int]) -> tuple[CropPlan, np.ndarray]:
    """The rows of the full `plan` that its ordinals keep, and their copy indices."""
    rows = kept_rows(plan.cls, list(np.split(kept, class_ends[:3])))
    return select(plan, rows), copy_index(rows)


@dataclass(frozen=True, eq=False)
class MtcnnItems(OrderedItems):
    """The run's items in key order, as columns; ``items[j]`` builds item j.

    Item j is record ``rows[j]`` of ``tables[roles[j]]``, with the ordinals
    ``values[ends[j - 1, 3]:ends[j, 3]]`` cut at ``ends[j]`` (`Balance.packed_ordinals`). Its
    detections are ``mined[j]`` when the run mined them, else the record's in `given` (a
    detections file), else None. `plans` hold the kept rows and copies of the items planned in
    the parent (not planned again). ``items[a:b]`` is a view of the same columns.
    """

    tables: tuple[PackedRecords, PackedRecords]   # faces, landmarks
    roles: np.ndarray                 # uint8 [n], index into `ROLES`
    rows: np.ndarray                  # int64 [n]
    values: np.ndarray                # int [selected] (uint16 where they fit)
    ends: np.ndarray                  # int [n, 4]
    cfg: MtcnnConfig
    seed: int
    given: Mapping[str, np.ndarray] | None = None
    mined: Mapping[int, np.ndarray | None] | None = None
    plans: Mapping[int, tuple[CropPlan, np.ndarray]] = field(default_factory=dict)
    start: int = 0
    stop: int | None = None

    def __len__(self) -> int:
        return (self.roles.shape[0] if self.stop is None else self.stop) - self.start

    @overload
    def __getitem__(self, index: int) -> MtcnnItem: ...
    @overload
    def __getitem__(self, index: slice) -> MtcnnItems: ...

    def __getitem__(self, index: int | slice) -> MtcnnItem | MtcnnItems:
        n = len(self)
        if isinstance(index, slice):
            lo, hi, step = index.indices(n)
            if step != 1:
                raise ValueError("MtcnnItems slices are contiguous")
            return dataclasses.replace(self, start=self.start + lo, stop=self.start + max(lo, hi))
        if not -n <= index < n:
            raise IndexError(f"item {index} of {n}")
        return self._item(self.start + index % n)

    def __iter__(self) -> Iterator[MtcnnItem]:
        return (self._item(j) for j in range(self.start, self.start + len(self)))

    def __reduce__(self) -> tuple:
        # A shard task's slice travels as its own items, not as the run's columns.
        return tuple, (tuple(self),)

    def key(self, index: int) -> str:
        j = self.start + index
        return f"{ROLES[self.roles[j]]}/{self.tables[self.roles[j]].key(int(self.rows[j]))}"

    def ordinals_of(self, index: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
        """Item `index`'s `MtcnnItem.kept` (int32) and `MtcnnItem.class_ends`."""
        j = self.start + index
        start = int(self.ends[j - 1, 3]) if j else 0
        end = self.ends[j]
        return self.values[start:int(end[3])].astype(np.int32), tuple(int(e) - start for e in end)

    def _item(self, j: int) -> MtcnnItem:
        role = ROLES[self.roles[j]]
        record = self.tables[self.roles[j]][int(self.rows[j])]
        if self.mined is not None:
            detections = self.mined.get(j)
        elif self.given is not None and role == FACES:
            detections = detections_for(self.given, record)
        else:
            detections = None
        plan, copies = self.plans.get(j, (None, None))
        return MtcnnItem(item_key(role, record), role, record, self.cfg, self.seed, detections,
                         *self.ordinals_of(j - self.start), plan, copies)
