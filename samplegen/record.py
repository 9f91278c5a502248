"""The common per-image record every reader produces, and the dataset that holds them.

Coordinates are continuous and 0-based: a box ``[x1, y1, x2, y2]`` covers ``x1 <= x < x2``, so
its width is ``x2 - x1`` (no +1). Readers convert their format's convention into this one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np

NO_BOXES = np.zeros((0, 4), np.float32)
NO_BOXES.flags.writeable = False
"""float32 [0, 4], read-only: the ``ignore`` a reader can share between the records without any
(`Record`'s own defaults are writeable copies)."""
NO_LABELS = np.zeros(0, np.int32)
NO_LABELS.flags.writeable = False
"""int32 [0], read-only: the ``ignore_labels`` that goes with `NO_BOXES`."""

FACE_CLASSES: tuple[str, ...] = ("face",)
"""Class names of the face formats (WIDER, the one-line lists, facial points, CelebA)."""
ZERO_SIZE = "zero_size"
"""Drop reason of a box with ``w <= 0`` or ``h <= 0`` (every reader counts them under this name)."""


class BoxAttributes(Mapping[str, np.ndarray]):
    """Per-box integer attributes as one int32 [N, K] table: ``attributes["blur"]`` is its column.

    One array instead of K: a WIDER record's six attributes as six arrays and a dict were a third
    of its memory, and a run's parent holds every record.
    """

    __slots__ = ("names", "table")

    def __init__(self, names: tuple[str, ...], table: np.ndarray) -> None:
        if table.ndim != 2 or table.shape[1] != len(names):
            raise ValueError(f"attribute table must be [N, {len(names)}], got {table.shape}")
        self.names, self.table = tuple(names), table

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.table[:, self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __reduce__(self) -> tuple:
        return BoxAttributes, (self.names, self.table)


@dataclass(frozen=True, eq=False, slots=True)   # slots: a run's parent holds every record
class Record:
    """One image and its annotation.

    Attributes:
        key: stable unique identifier of the image inside the dataset (the annotation path with
            forward slashes); sorting, sharding and seeding use it.
        image: the image path exactly as written in the annotation file.
        width, height: image size in pixels, or None when neither the annotation nor the image
            header could tell it (for example when the images are not available).
        boxes: float32 [N, 4], usable ground-truth boxes, continuous x1 y1 x2 y2.
        labels: int32 [N], contiguous 0-based class index into `Dataset.class_names`.
        ignore: float32 [M, 4], ignore regions (WIDER invalid, COCO crowd, VOC difficult).
        ignore_labels: int32 [M], class of each ignore region.
        landmarks: float32 [N, 5, 2] five facial points per box (x, y), or None.
        attributes: per-box int arrays [N] where the format has them (WIDER blur, pose, ...).
        dropped: reason -> number of boxes of this image that were dropped while reading.
        file: the image file relative to the images root, where it is not `image` with forward
            slashes (wider-lines writes ``0--Parade/0_Parade_marchingband_1_849`` for a ``.jpg``).
    """

    key: str
    image: str
    width: int | None
    height: int | None
    boxes: np.ndarray = field(default_factory=lambda: NO_BOXES.copy())
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    ignore: np.ndarray = field(default_factory=lambda: NO_BOXES.copy())
    ignore_labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    landmarks: np.ndarray | None = None
    attributes: Mapping[str, np.ndarray] = field(default_factory=dict)
    dropped: Mapping[str, int] = field(default_factory=dict)
    file: str | None = None

    @property
    def num_boxes(self) -> int:
        return int(self.boxes.shape[0])


@dataclass(frozen=True, eq=False)
class Dataset:
    """What a reader returns: the records in file order plus dataset-level facts.

    Attributes:
        format: reader name (``wider``, ``coco``, ...).
        source: the annotation path that was read.
        records: one Record per image, in the order of the annotation file (a list, or
            `samplegen.record_table.PackedRecords` from the readers of the large face formats).
        class_names: name of each contiguous class index.
        meta: format-specific facts worth recording (e.g. COCO ``category_ids``, the original id of
            each contiguous index).
    """

    format: str
    source: str
    records: Sequence[Record]
    class_names: tuple[str, ...]
    meta: Mapping[str, object] = field(default_factory=dict)


def check_record(record: Record) -> None:
    """Raise ValueError when a record breaks the shape/dtype contract (a programming error)."""
    n = record.boxes.shape[0]
    if record.boxes.dtype != np.float32 or record.boxes.shape != (n, 4):
        raise ValueError(f"{record.key}: boxes must be float32 [N,4], got {record.boxes.dtype} {record.boxes.shape}")
    if record.labels.dtype != np.int32 or record.labels.shape != (n,):
        raise ValueError(f"{record.key}: labels must be int32 [{n}]")
    m = record.ignore.shape[0]
    if record.ignore.dtype != np.float32 or record.ignore.shape != (m, 4):
        raise ValueError(f"{record.key}: ignore must be float32 [M,4]")
    if record.ignore_labels.shape != (m,):
        raise ValueError(f"{record.key}: ignore_labels must be [{m}]")
    if record.landmarks is not None and record.landmarks.shape != (n, 5, 2):
        raise ValueError(f"{record.key}: landmarks must be [N,5,2]")
    if not (np.isfinite(record.boxes).all() and np.isfinite(record.ignore).all()):
        raise ValueError(f"{record.key}: non-finite coordinates")
    for name, values in record.attributes.items():
        if len(values) != n:
            raise ValueError(f"{record.key}: attribute {name} has {len(values)} values for {n} boxes")
