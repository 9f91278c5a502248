"""Shard records and manifest checkpoints: a commit cost that does not grow with the shard count.

Rewriting the whole manifest after every shard costs time proportional to the shards listed so
far (about 40 ms per 1,000 shards), so a long run would spend most of its time there. Instead,
each finished shard leaves a small record, ``_shards/NNNNNN.json`` (its manifest entry, the
files' ``mtime_ns`` and the run's fingerprint), written atomically after the shard's own files;
the driver rewrites ``manifest.json`` only now and then (`CheckpointPolicy`) and then deletes the
records it now lists. The manifest on disk plus the records left beside it always describe every
committed shard, which is what `merge_records` rebuilds for ``--resume``, ``verify`` and the
clean-up after a failure. The finished run writes the full manifest (the same bytes as ever) and
removes ``_shards/``: a complete output folder holds no trace of the scheme.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from samplegen.engine.task import ShardResult
from samplegen.writers.base import is_temporary_name, remove_entry, write_bytes_atomic

RECORDS_DIR = "_shards"


def record_path(out_dir: Path, index: int) -> Path:
    return out_dir / RECORDS_DIR / f"{index:06d}.json"


def write_shard_record(out_dir: Path, fingerprint: str, result: ShardResult, stamps: Mapping[str, int]) -> None:
    """Leave shard `result`'s record (after its files are committed): its manifest entry with
    each file's `mtime_ns` from `stamps`, and the run's `fingerprint`."""
    entry = result.as_json()
    for record in entry["files"]:
        if record["name"] in stamps:
            record["mtime_ns"] = stamps[record["name"]]
    folder = out_dir / RECORDS_DIR
    folder.mkdir(exist_ok=True)
    data = json.dumps({"fingerprint": fingerprint, "shard": entry}, separators=(",", ":"))
    # No fsync: the shard's files are on disk already, and a record lost in a power cut (absent,
    # or empty: passed over) only makes --resume write its shard again.
    write_bytes_atomic(record_path(out_dir, result.index), data.encode("utf-8"), durable=False)


def read_shard_records(out_dir: Path, fingerprint: str) -> list[dict]:
    """The shard entries recorded under `out_dir` for the run `fingerprint`, by index.

    A record is renamed into place whole (but not fsynced); one that cannot be read (or belongs
    to another run) is passed over, and its shard, then unlisted, is written again by ``--resume``.
    """
    folder = out_dir / RECORDS_DIR
    if not folder.is_dir() or folder.is_symlink():
        return []
    entries = {}
    for path in folder.iterdir():
        if is_temporary_name(path.name) or not path.name.endswith(".json") or not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("fingerprint") == fingerprint:
                entries[int(data["shard"]["index"])] = data["shard"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return [entries[i] for i in sorted(entries)]


def merge_records(manifest: dict, records: Iterable[Mapping[str, Any]]) -> dict:
    """`manifest` with the recorded shards it does not list yet, in index order (a new dict)."""
    shards = {int(s["index"]): s for s in manifest.get("shards", [])}
    added = False
    for entry in records:
        if int(entry["index"]) not in shards:
            shards[int(entry["index"])] = dict(entry)
            added = True
    if not added:
        return manifest
    return {**manifest, "shards": [shards[i] for i in sorted(shards)]}


def remove_shard_records(out_dir: Path, indices: Iterable[int] | None = None) -> None:
    """Delete the records of `indices` (all of them, and the folder, when None)."""
    folder = out_dir / RECORDS_DIR
    if indices is None:
        if folder.exists() or folder.is_symlink():
            remove_entry(folder)
        return
    for index in indices:
        record_path(out_dir, index).unlink(missing_ok=True)


class CheckpointPolicy:
    """When the driver rewrites ``manifest.json`` while a run goes on.

    A checkpoint is due once the shards recorded since the last one reach `min_shards` or
    1/`fraction` of those already listed, whichever is more: a rewrite costs time in proportion
    to the listed shards, so this keeps the cost per shard flat (at most `fraction` + 1 entry
    writes per shard), and at most ``listed / fraction`` records wait beside the manifest. It is
    also due after `seconds` with anything new, but never sooner than the last rewrite's own
    duration divided by `max_overhead`, so the rewrites take at most that share of the run.
    """

    def __init__(self, min_shards: int = 64, fraction: int = 8, seconds: float = 30.0,
                 max_overhead: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_shards, self.fraction, self.seconds = min_shards, fraction, seconds
        self.max_overhead, self.clock = max_overhead, clock
        self.last_time, self.last_cost = clock(), 0.0

    def due(self, listed: int, new: int) -> bool:
        """Whether to rewrite now, with `listed` shards in the manifest and `new` only recorded."""
        if new <= 0:
            return False
        if new >= max(self.min_shards, listed // self.fraction):
            return True
        return self.clock() - self.last_time >= max(self.seconds, self.last_cost / self.max_overhead)

    def written(self, cost: float) -> None:
        """A checkpoint was just written, taking `cost` seconds."""
        self.last_time, self.last_cost = self.clock(), cost
