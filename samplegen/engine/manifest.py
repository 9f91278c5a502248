"""``manifest.json``: what a run was asked to do, what it read and what it wrote.

The manifest is rewritten atomically now and then while a run goes on, and each completed shard
leaves a record beside it until then (`samplegen.engine.shard_records`): `read_manifest` merges
the two, so at any moment it lists exactly the shards that are complete on disk. Its `fingerprint` covers everything that decides
the output bytes (command, resolved configuration, seed, layout, shard size, tool version, the
numpy and OpenCV versions and the SHA-256 of every annotation input) and nothing that does not (worker count, progress), so
``--resume`` may continue with another ``--workers`` value but refuses a changed configuration.

While a run is incomplete, each file record also holds its stamp when the run recorded it:
``mtime_ns``, the file's modification time, or ``etag``, the object's ETag in object storage
(`samplegen.engine.storage`). With the size, it lets ``--resume`` trust an untouched shard
without reading it (`samplegen.engine.verify`). A complete manifest leaves it out, so a finished
run's manifest is the same bytes for the same inputs and seed, like its shards, wherever it is
written.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from samplegen.config import canonical_json
from samplegen.errors import ConfigError
from samplegen.engine.shard_records import merge_records, read_shard_records
from samplegen.engine.storage import OutputFolder, open_output
from samplegen.engine.task import ShardResult
from samplegen.writers.base import folder_digest, sha256_file

MANIFEST_NAME = "manifest.json"
TOOL = "samplegen"


def sha256_path(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (`folder_digest`)."""
    return folder_digest(path)[1] if path.is_dir() else sha256_file(path)


def runtime_versions() -> dict[str, str]:
    """The library versions that decide output bytes in this process (recorded in the manifest,
    part of the fingerprint, and compared on every node of a Ray cluster)."""
    import cv2
    import numpy

    from samplegen import __version__

    return {"samplegen": __version__, "numpy": numpy.__version__, "opencv": cv2.__version__}


@dataclass(frozen=True)
class RunDescription:
    """The part of the manifest fixed before any shard is written."""

    command: str
    version: str
    config: Mapping[str, Any]
    config_sources: Mapping[str, str]
    seed: int
    layout: str
    shard_size: int
    inputs: tuple[Mapping[str, str], ...]
    planned_shards: int
    plan: Mapping[str, Any] = field(default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()  # (image, reason) skipped while planning
    runtime: Mapping[str, str] = field(default_factory=runtime_versions)

    @property
    def fingerprint(self) -> str:
        decisive = {
            "command": self.command, "version": self.version, "config": self.config,
            "seed": self.seed, "layout": self.layout, "shard_size": self.shard_size,
            "inputs": [i["sha256"] for i in self.inputs], "runtime": self.runtime,
        }
        return hashlib.sha256(canonical_json(decisive).encode()).hexdigest()


def describe_input(role: str, path: Path) -> dict[str, str]:
    return {"role": role, "path": str(path), "sha256": sha256_path(path)}


def manifest_json(run: RunDescription, shards: Mapping[int, ShardResult], complete: bool,
                  totals: Mapping[str, Any] | None = None, stamps: Mapping[str, Any] | None = None,
                  stamp_key: str = "mtime_ns") -> dict:
    """The manifest as a JSON object; `stamps` (file name -> stamp, recorded as `stamp_key`:
    ``mtime_ns`` or ``etag``) only while incomplete."""
    records = [shards[i].as_json() for i in sorted(shards)]
    if stamps and not complete:
        for record in records:
            for f in record["files"]:
                if f["name"] in stamps:
                    f[stamp_key] = stamps[f["name"]]
    return {
        "tool": TOOL,
        "version": run.version,
        "runtime": dict(run.runtime),
        "command": run.command,
        "fingerprint": run.fingerprint,
        "complete": complete,
        "seed": run.seed,
        "layout": run.layout,
        "shard_size": run.shard_size,
        "config": run.config,
        "config_sources": run.config_sources,
        "inputs": list(run.inputs),
        "plan": run.plan,
        "planned_shards": run.planned_shards,
        "shards": records,
        "skipped_images": [{"image": image, "reason": reason} for image, reason in all_skipped(run, shards)],
        "totals": dict(totals or {}),
    }


def all_skipped(run: RunDescription, shards: Mapping[int, ShardResult]) -> list[tuple[str, str]]:
    """Images skipped while planning, then those skipped in shards, in shard order."""
    return list(run.skipped) + [item for i in sorted(shards) for item in shards[i].skipped]


def write_manifest(out_dir: str | os.PathLike | OutputFolder, data: Mapping[str, Any]) -> None:
    """Replace the manifest atomically, then fsync the folder: the shards' renames (done before)
    and the manifest's are then on disk, so a listed shard survives a power cut (object
    storage: one PUT, durable once it returns)."""
    folder = open_output(out_dir)
    text = json.dumps(data, indent=1, sort_keys=False) + "\n"
    folder.write_atomic(MANIFEST_NAME, text.encode("utf-8"))
    folder.sync()


def read_manifest(out_dir: str | os.PathLike | OutputFolder, records: bool = True) -> dict | None:
    """The manifest of `out_dir` (a path, URL or `OutputFolder`), or None when there is none.
    While the run is incomplete, the shards recorded since its last checkpoint are merged in
    (`merge_records`); `records=False` gives the file as written.

    Raises:
        ConfigError: the file is not JSON, or not an object.
    """
    folder = open_output(out_dir)
    where = folder.show(MANIFEST_NAME)
    if not folder.is_file(MANIFEST_NAME):
        return None
    try:
        data = json.loads(folder.read_bytes(MANIFEST_NAME).decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{where}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: unreadable manifest (not a JSON object)")
    if records and not data.get("complete") and is_samplegen_manifest(data):
        try:
            data = merge_records(data, read_shard_records(folder, str(data.get("fingerprint"))))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a malformed shard list: `check_manifest` names it
    return data


def is_samplegen_manifest(data: Mapping[str, Any]) -> bool:
    """Whether a manifest was written by samplegen (``"tool": "samplegen"``)."""
    return data.get("tool") == TOOL
