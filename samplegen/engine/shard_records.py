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
import os
import time
from typing import Any, Callable, Iterable, Mapping

from samplegen.engine.storage import OutputFolder, open_output
from samplegen.engine.task import ShardResult
from samplegen.writers.base import is_temporary_name

RECORDS_DIR = "_shards"


def record_name(index: int) -> str:
    """``_shards/000042.json``: the record's name inside the output folder."""
    return f"{RECORDS_DIR}/{index:06d}.json"


def write_shard_record(out_dir: str | os.PathLike | OutputFolder, fingerprint: str, result: ShardResult,
                       stamps: Mapping[str, Any]) -> None:
    """Leave shard `result`'s record (after its files are committed): its manifest entry with
    each file's stamp from `stamps` (``mtime_ns``, or ``etag`` in object storage), and the
    run's `fingerprint`."""
    folder = open_output(out_dir)
    entry = result.as_json()
    for record in entry["files"]:
        if record["name"] in stamps:
            record[folder.stamp_key] = stamps[record["name"]]
    folder.make_dir(RECORDS_DIR)
    data = json.dumps({"fingerprint": fingerprint, "shard": entry}, separators=(",", ":"))
    # No fsync: the shard's files are on disk already, and a record lost in a power cut (absent,
    # or empty: passed over) only makes --resume write its shard again.
    folder.write_atomic(record_name(result.index), data.encode("utf-8"), durable=False)


def read_shard_records(out_dir: str | os.PathLike | OutputFolder, fingerprint: str) -> list[dict]:
    """The shard entries recorded under `out_dir` for the run `fingerprint`, by index.

    A record is renamed into place whole (but not fsynced); one that cannot be read (or belongs
    to another run) is passed over, and its shard, then unlisted, is written again by ``--resume``.
    """
    folder = open_output(out_dir)
    if not folder.is_dir(RECORDS_DIR):
        return []
    names = [f"{RECORDS_DIR}/{name}" for name in folder.names(RECORDS_DIR)
             if not is_temporary_name(name) and name.endswith(".json")]
    entries = {}
    for text in folder.read_many(names).values():
        try:
            data = json.loads(text.decode("utf-8"))
            if data.get("fingerprint") == fingerprint:
                entries[int(data["shard"]["index"])] = data["shard"]
        except (ValueError, KeyError, TypeError, AttributeError):
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


def remove_shard_records(out_dir: str | os.PathLike | OutputFolder, indices: Iterable[int] | None = None) -> None:
    """Delete the records of `indices` (all of them, and the folder, when None)."""
    folder = open_output(out_dir)
    if indices is None:
        if folder.exists(RECORDS_DIR):
            folder.remove(RECORDS_DIR)
        return
    folder.remove_files(record_name(index) for index in indices)


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
