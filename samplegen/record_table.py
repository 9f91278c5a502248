"""`PackedRecords`: a dataset's records stored column-wise, for a parent that holds a million.

A `Record` is a dozen Python objects (the record, its key, four or five arrays with their
headers, an attribute table, a mapping): ~1.1 KB for a WIDER image, of which a quarter is the
boxes themselves. A table keeps every record's boxes in one array, every key in one byte string,
and so on: ~400 bytes a WIDER image, ~120 a facial-point one. Indexing it gives back an ordinary
`Record` whose arrays are read-only views of the table (attributes and the mappings are small
fresh copies), so readers build tables (`packed_records`, chunk by chunk) and every consumer
keeps reading records.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence, overload

import numpy as np

from samplegen.record import NO_BOXES, NO_LABELS, BoxAttributes, Record

PACK_CHUNK = 4096   # records packed at a time by `packed_records` (bounded pending Record objects)
_NO_SIZE = -1       # width/height of a record that has none (None)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _ends(lengths: Iterable[int]) -> np.ndarray:
    # int32: a table is one chunk of `PACK_CHUNK` records, far from 2**31 boxes or key bytes
    ends = np.cumsum(np.fromiter(lengths, np.int64), dtype=np.int64)
    return ends.astype(np.int32) if not ends.size or ends[-1] <= np.iinfo(np.int32).max else ends


def _smallest_int(table: np.ndarray) -> np.ndarray:
    """`table` in the narrowest signed integer type that holds its values (WIDER's attributes
    are 0-2: int8, a quarter of int32)."""
    if table.size == 0:
        return table.astype(np.int8)
    low, high = int(table.min()), int(table.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return table.astype(dtype)
    return table


def _widened(values: np.ndarray) -> np.ndarray:
    """Integers stored narrow (`_smallest_int`) back as int32, as readers make them (wider ones
    stay as they were)."""
    return values.astype(np.promote_types(values.dtype, np.int32))


def _attribute_table(record: Record, names: tuple[str, ...]) -> np.ndarray | None:
    """The record's attributes as an int [N, len(names)] table, None when they do not have
    exactly these names (kept whole instead)."""
    attributes = record.attributes
    if isinstance(attributes, BoxAttributes) and attributes.names == names:
        return attributes.table
    if tuple(attributes) != names:
        return None
    columns = [np.asarray(attributes[n]) for n in names]
    if not all(c.dtype.kind in "iu" and c.shape == (record.num_boxes,) for c in columns):
        return None
    return np.stack(columns, axis=1) if columns else np.zeros((record.num_boxes, 0), np.int32)


@dataclass(frozen=True, eq=False)
class TextColumn:
    """Strings end to end in one UTF-8 byte string (`ends`: where each one ends)."""

    data: bytes
    ends: np.ndarray   # int64 [n]

    @classmethod
    def of(cls, texts: Sequence[str]) -> TextColumn:
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        return cls(b"".join(encoded), _read_only(_ends(len(e) for e in encoded)))

    def __len__(self) -> int:
        return self.ends.shape[0]

    def __getitem__(self, i: int) -> str:
        start = int(self.ends[i - 1]) if i else 0
        return self.data[start:int(self.ends[i])].decode("utf-8", "surrogatepass")


@dataclass(frozen=True, eq=False)
class RecordTable:
    """Records column-wise; ``table.record(i)`` is record i (`Record`).

    The arrays are read-only: a record taken from the table must not be changed in place (as
    no reader's record ever is). Records whose attributes have other names than the table's
    `attribute_names` (the first record's that has some) keep theirs whole (`other_attributes`).
    """

    keys: TextColumn
    sizes: np.ndarray                      # int32 [n, 2] width, height (-1: None)
    box_ends: np.ndarray                   # int64 [n]
    boxes: np.ndarray                      # float32 [B, 4]
    labels: np.ndarray                     # int [B], narrowest type (a class index)
    ignore_ends: np.ndarray                # int64 [n]
    ignore: np.ndarray                     # float32 [G, 4]
    ignore_labels: np.ndarray              # int32 [G]
    landmarks: np.ndarray | None           # float32 [B, 5, 2] (rows of records without: NaN)
    has_landmarks: np.ndarray              # bool [n]
    attribute_names: tuple[str, ...]
    attributes: np.ndarray                 # int [B, len(attribute_names)], narrowest type
    has_attributes: np.ndarray             # bool [n]: attributes in `attributes` (else `other_attributes` or {})
    images: TextColumn | None = None                                   # None: every image is its key
    files: Mapping[int, str] = field(default_factory=dict)             # where `file` is set
    dropped: Mapping[int, Mapping[str, int]] = field(default_factory=dict)
    other_attributes: Mapping[int, Mapping[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def pack(cls, records: Sequence[Record], attribute_names: tuple[str, ...] | None = None) -> RecordTable:
        """`records` as one table; `attribute_names` default to the first record's that has some."""
        if attribute_names is None:
            attribute_names = next((tuple(r.attributes) for r in records if len(r.attributes)), ())
        tables = [_attribute_table(r, attribute_names) if len(r.attributes) else None for r in records]
        width = len(attribute_names)
        marks = any(r.landmarks is not None for r in records)
        for r in records:
            if r.landmarks is not None and r.landmarks.shape != (r.num_boxes, 5, 2):
                raise ValueError(f"{r.key}: landmarks must be [N, 5, 2] with N boxes, got {r.landmarks.shape}")
        attributes = (np.concatenate([t if t is not None else np.zeros((r.num_boxes, width), np.int32)
                                      for r, t in zip(records, tables)]) if records
                      else np.zeros((0, width), np.int32))
        return cls(
            keys=TextColumn.of([r.key for r in records]),
            sizes=_read_only(np.array([(_NO_SIZE if r.width is None else r.width,
                                        _NO_SIZE if r.height is None else r.height) for r in records],
                                      np.int32).reshape(-1, 2)),
            box_ends=_read_only(_ends(r.num_boxes for r in records)),
            boxes=_read_only(np.concatenate([r.boxes for r in records]).astype(np.float32, copy=False)
                             if records else NO_BOXES.copy()),
            labels=_read_only(_smallest_int(np.concatenate([NO_LABELS, *(r.labels for r in records)]))),
            ignore_ends=_read_only(_ends(r.ignore.shape[0] for r in records)),
            ignore=_read_only(np.concatenate([NO_BOXES, *(r.ignore for r in records)]).astype(np.float32, copy=False)),
            ignore_labels=_read_only(np.concatenate([NO_LABELS, *(r.ignore_labels for r in records)])
                                     .astype(np.int32, copy=False)),
            landmarks=_read_only(np.concatenate(
                [r.landmarks if r.landmarks is not None else np.full((r.num_boxes, 5, 2), np.nan, np.float32)
                 for r in records]).astype(np.float32, copy=False)) if marks else None,
            has_landmarks=_read_only(np.array([r.landmarks is not None for r in records], bool)),
            attribute_names=attribute_names, attributes=_read_only(_smallest_int(attributes)),
            has_attributes=_read_only(np.array([t is not None for t in tables], bool)),
            images=TextColumn.of([r.image for r in records]) if any(r.image != r.key for r in records) else None,
            files={i: r.file for i, r in enumerate(records) if r.file is not None},
            dropped={i: dict(r.dropped) for i, r in enumerate(records) if r.dropped},
            other_attributes={i: r.attributes for i, (r, t) in enumerate(zip(records, tables))
                              if t is None and len(r.attributes)},
        )

    def __len__(self) -> int:
        return len(self.keys)

    def key(self, i: int) -> str:
        """Record i's key, without building the record."""
        return self.keys[i]

    def sized(self) -> np.ndarray:
        """bool [n]: the records with a width and a height."""
        return (self.sizes != _NO_SIZE).all(axis=1)

    def record(self, i: int) -> Record:
        """Record i (0 <= i < n)."""
        lo, hi = (int(self.box_ends[i - 1]) if i else 0), int(self.box_ends[i])
        glo, ghi = (int(self.ignore_ends[i - 1]) if i else 0), int(self.ignore_ends[i])
        key = self.key(i)
        width, height = (int(v) for v in self.sizes[i])
        if self.has_attributes[i]:
            attributes = BoxAttributes(self.attribute_names, _widened(self.attributes[lo:hi]))
        else:
            attributes = self.other_attributes.get(i, {})
        return Record(
            key=key, image=key if self.images is None else self.images[i],
            width=None if width == _NO_SIZE else width, height=None if height == _NO_SIZE else height,
            boxes=self.boxes[lo:hi], labels=_widened(self.labels[lo:hi]),
            ignore=self.ignore[glo:ghi] if ghi > glo else NO_BOXES,
            ignore_labels=self.ignore_labels[glo:ghi] if ghi > glo else NO_LABELS,
            landmarks=self.landmarks[lo:hi] if self.has_landmarks[i] else None,
            attributes=attributes, dropped=dict(self.dropped.get(i, {})), file=self.files.get(i),
        )


class PackedRecords(Sequence[Record]):
    """A reader's records as `RecordTable`s of `PACK_CHUNK` records each, indexed as one sequence.

    The chunks are not concatenated: that would hold every column twice at the end of reading,
    the parent's peak.
    """

    def __init__(self, parts: Sequence[RecordTable]) -> None:
        self.parts = tuple(parts)
        self.starts = np.cumsum([0] + [len(p) for p in self.parts], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.starts[-1])

    @overload
    def __getitem__(self, index: int) -> Record: ...
    @overload
    def __getitem__(self, index: slice) -> list[Record]: ...

    def __getitem__(self, index: int | slice) -> Record | list[Record]:
        if isinstance(index, slice):
            return [self.record(i) for i in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"record {index} of {n}")
        return self.record(index % n)

    def __iter__(self) -> Iterator[Record]:
        return (part.record(i) for part in self.parts for i in range(len(part)))

    def _part(self, i: int) -> tuple[RecordTable, int]:
        k = int(np.searchsorted(self.starts, i, "right")) - 1
        return self.parts[k], i - int(self.starts[k])

    def record(self, i: int) -> Record:
        """Record i (0 <= i < n)."""
        part, j = self._part(i)
        return part.record(j)

    def key(self, i: int) -> str:
        """Record i's key, without building the record."""
        part, j = self._part(i)
        return part.key(j)

    def sized(self) -> np.ndarray:
        """bool [n]: the records with a width and a height."""
        return np.concatenate([np.zeros(0, bool), *(p.sized() for p in self.parts)])


def packed_records(records: Iterable[Record], chunk: int = PACK_CHUNK) -> PackedRecords:
    """`records` (any iterable: a reader's generator) packed `chunk` at a time, so that no more
    than `chunk` `Record` objects are alive at once."""
    parts: list[RecordTable] = []
    pending: list[Record] = []
    for record in records:
        pending.append(record)
        if len(pending) == chunk:
            parts.append(RecordTable.pack(pending))
            pending = []
    if pending:
        parts.append(RecordTable.pack(pending))
    return PackedRecords(parts)
