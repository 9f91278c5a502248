"""TFRecord files without TensorFlow: record framing, a shard writer and a seeded merge.

Framing (TensorFlow's ``core/lib/io/record_writer.cc``), per record::

    uint64 little-endian  length of the payload
    uint32 little-endian  masked CRC32C of those 8 length bytes
    bytes                 payload (here a serialised `tf.train.Example`)
    uint32 little-endian  masked CRC32C of the payload

``masked(crc) = ((crc >> 15) | (crc << 17)) + 0xA282EAD8`` modulo 2**32. A file is records back to
back with no header, so concatenating record files gives a valid file, and an empty file holds
zero records. CRC32C (Castagnoli) comes from `google_crc32c` (C, with a pure-Python fallback).

A shard is written like every other samplegen shard (temp name, fsync, rename, SHA-256): one
``STEM.tfrecord``, or with groups one ``STEM.GROUP.tfrecord`` per group (e.g. one per MTCNN
class). Records are spooled to a temporary file as they arrive and written on `commit`, in
arrival order or permuted by the generator `commit` is given; `merge_records` then joins shards
into the single file a trainer opens, permuted by another seeded generator.
"""
from __future__ import annotations

import mmap
import struct
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

import numpy as np

from samplegen.errors import ConfigError
from samplegen.writers.base import HashingFile, ShardFile, temp_path_for

try:
    from google_crc32c import value as _crc32c
except ImportError:  # pragma: no cover - exercised only without the package
    _crc32c = None

TFRECORD_SUFFIX = ".tfrecord"
MASK_DELTA = 0xA282EAD8
HEADER_BYTES = 12  # length (8) + its masked CRC (4)
FOOTER_BYTES = 4  # masked CRC of the payload
_U32 = 0xFFFFFFFF
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")


def masked_crc32c(data: bytes | memoryview) -> int:
    """TensorFlow's masked CRC32C of `data` (uint32)."""
    if _crc32c is None:
        raise ConfigError("TFRecord output needs the CRC32C package: pip install google-crc32c")
    crc = _crc32c(bytes(data))
    return ((((crc >> 15) | (crc << 17)) & _U32) + MASK_DELTA) & _U32


def frame_record(payload: bytes) -> bytes:
    """One framed record: length, its masked CRC, `payload`, the payload's masked CRC."""
    length = _LENGTH.pack(len(payload))
    return length + _CRC.pack(masked_crc32c(length)) + payload + _CRC.pack(masked_crc32c(payload))


def record_spans(data: bytes | mmap.mmap, check: bool = True, name: str = "TFRecord") -> np.ndarray:
    """Where each framed record of a whole file lies: int64 [N, 2] (start byte, framed size).

    With `check`, both CRCs of every record are verified. Raises ValueError naming `name`, the
    record number and byte offset when the data is truncated or a CRC does not match.
    """
    # Slices of `data` are bytes copies, never memoryviews: a view left in a traceback would
    # keep an mmap from closing.
    spans, pos, size = [], 0, len(data)
    while pos < size:
        where = f"{name}: record {len(spans)} at byte {pos}"
        if pos + HEADER_BYTES > size:
            raise ValueError(f"{where}: truncated header")
        (length,) = _LENGTH.unpack_from(data, pos)
        end = pos + HEADER_BYTES + length + FOOTER_BYTES
        if check and _CRC.unpack_from(data, pos + 8)[0] != masked_crc32c(data[pos:pos + 8]):
            raise ValueError(f"{where}: length CRC mismatch")
        if end > size:
            raise ValueError(f"{where}: truncated payload ({length} bytes announced)")
        payload = data[pos + HEADER_BYTES:end - FOOTER_BYTES]
        if check and _CRC.unpack_from(data, end - FOOTER_BYTES)[0] != masked_crc32c(payload):
            raise ValueError(f"{where}: payload CRC mismatch")
        spans.append((pos, end - pos))
        pos = end
    return np.array(spans, np.int64).reshape(-1, 2)


def read_records(path: str | Path, check: bool = True) -> Iterator[bytes]:
    """The payloads of a TFRecord file in order, CRCs verified with `check` (see `record_spans`)."""
    with open(path, "rb") as handle:
        data = handle.read()
    for start, size in record_spans(data, check, str(path)):
        yield data[start + HEADER_BYTES:start + size - FOOTER_BYTES]


def group_file(stem: str, group: str) -> str:
    """``STEM.tfrecord`` for the unnamed group ``""``, else ``STEM.GROUP.tfrecord``."""
    return f"{stem}.{group}{TFRECORD_SUFFIX}" if group else f"{stem}{TFRECORD_SUFFIX}"


class TFRecordShardWriter:
    """One TFRecord shard: ``add(payload, group)`` per sample, then ``commit(rng)`` (or ``abort``).

    Args:
        root: output folder.
        stem: shard name without suffix (``PREFIX-000000``).
        groups: one output file per group, committed in this order, empty ones included (a
            fixed file list per shard); the default ``("",)`` writes the single ``STEM.tfrecord``.
    """

    def __init__(self, root: Path, stem: str, groups: Sequence[str] = ("",)) -> None:
        if not groups or len(set(groups)) != len(groups):
            raise ValueError(f"groups must be distinct and non-empty: {groups!r}")
        self.root = Path(root)
        self.stem = stem
        self.groups = tuple(groups)
        self._group_index = {g: i for i, g in enumerate(self.groups)}
        self._spool_path = temp_path_for(self.root / f"{stem}{TFRECORD_SUFFIX}.spool")
        self._spool: BinaryIO = open(self._spool_path, "w+b")
        self._sizes: list[int] = []
        self._owners: list[int] = []
        self.samples = 0

    def add(self, payload: bytes, group: str = "") -> None:
        """Frame `payload` and spool it for `group` (one of `groups`)."""
        owner = self._group_index.get(group)
        if owner is None:
            raise ValueError(f"unknown group {group!r}; expected one of {self.groups!r}")
        framed = frame_record(payload)
        self._spool.write(framed)
        self._sizes.append(len(framed))
        self._owners.append(owner)
        self.samples += 1

    def commit(self, rng: np.random.Generator | None = None) -> list[ShardFile]:
        """Write every group's file atomically and return them in `groups` order.

        Records keep their arrival order, or with `rng` each group's records are permuted by
        ``rng.permutation``, drawn once per group in `groups` order (empty groups included), so
        the bytes depend only on the samples added and the generator's seed.
        """
        sizes = np.array(self._sizes, np.int64)
        starts = np.cumsum(sizes) - sizes
        owners = np.array(self._owners, np.int64)
        written: list[HashingFile] = []
        try:
            self._spool.flush()
            with _mapped(self._spool) as data:
                for i, group in enumerate(self.groups):
                    rows = np.flatnonzero(owners == i)
                    if rng is not None:
                        rows = rows[rng.permutation(len(rows))]
                    target = HashingFile(self.root / group_file(self.stem, group))
                    written.append(target)
                    for row in rows:
                        target.write(data[starts[row]:starts[row] + sizes[row]])
            return [target.commit(self.root) for target in written]
        except BaseException:
            for target in written:
                target.abort()
            raise
        finally:
            self._close_spool()

    def abort(self) -> None:
        self._close_spool()

    def _close_spool(self) -> None:
        self._spool.close()
        self._spool_path.unlink(missing_ok=True)


def merge_records(root: Path, sources: Sequence[str], target: str,
                  rng: np.random.Generator | None = None) -> ShardFile:
    """Join the records of the TFRecord files `sources` (relative to `root`) into ``root/target``.

    Records come in source order, or permuted as a whole by ``rng.permutation(total)`` (one
    draw), so the result depends only on the sources' bytes, their order and the generator's
    seed. Every source's CRCs are verified while indexing. Written atomically; holds an index
    of 16 bytes per record in memory, never the records.
    """
    root = Path(root)
    with ExitStack() as stack:
        maps = [stack.enter_context(_mapped(stack.enter_context(open(root / name, "rb")))) for name in sources]
        spans = [record_spans(data, True, name) for data, name in zip(maps, sources)]
        owner = np.concatenate([np.full(len(s), i, np.int64) for i, s in enumerate(spans)] or [np.zeros(0, np.int64)])
        flat = np.concatenate(spans or [np.zeros((0, 2), np.int64)])
        order = np.arange(len(flat)) if rng is None else rng.permutation(len(flat))
        out = HashingFile(root / target)
        try:
            for row in order:
                start, size = flat[row]
                out.write(maps[owner[row]][start:start + size])
            return out.commit(root)
        except BaseException:
            out.abort()
            raise


def map_file(handle: BinaryIO) -> "_mapped":
    """Context manager: a read-only map of the whole open file `handle` (``b""`` when empty)."""
    return _mapped(handle)


def _map_file(handle: BinaryIO) -> mmap.mmap | bytes:
    """A read-only map of a whole file (``b""`` for an empty one, which mmap refuses)."""
    size = handle.seek(0, 2)
    return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""


class _mapped:
    """Context manager mapping an open (flushed) spool file read-only, closing the map after."""

    def __init__(self, handle: BinaryIO) -> None:
        self._data = _map_file(handle)

    def __enter__(self) -> mmap.mmap | bytes:
        return self._data

    def __exit__(self, *exc: object) -> None:
        if isinstance(self._data, mmap.mmap):
            self._data.close()
