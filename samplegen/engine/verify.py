"""Checking an output folder against its manifest: what `--resume` keeps and `samplegen verify` says.

A file record holds its size and SHA-256 (and, while the run is incomplete, its stamp:
``mtime_ns``, or ``etag`` in object storage, `samplegen.engine.storage`). The full check hashes
the file; the fast check trusts a file whose size and stamp are the recorded ones, since any
write to it (a flipped byte, zeros over it, another shard of the same size moved in its place)
gives it a new modification time (a new ETag). `--resume` uses the fast check except with
``--verify``, for files recorded without a stamp, and, in a local folder, for the shards written
last before the run stopped (those a crash could have caught in the middle of reaching the disk;
an object is complete or absent).

Every name a manifest lists must be a top-level name inside the folder: a shard name
(`samplegen.writers.base.is_shard_name`) for shard files, a plain file name for the files a job
merged from them. A manifest naming ``../victim``, an absolute path or a subfolder's file is
refused, never followed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from samplegen.engine.manifest import MANIFEST_NAME, is_samplegen_manifest, read_manifest
from samplegen.engine.storage import LocalFolder, OutputFolder, file_stamp, open_output
from samplegen.engine.task import ShardResult
from samplegen.errors import ConfigError, RunError
from samplegen.writers.base import is_plain_name, is_shard_name, is_temporary_name

Location = str | os.PathLike | OutputFolder


def file_problem(out_dir: Location, record: Mapping[str, Any], full: bool) -> str | None:
    """Why the file `record` describes does not hold what the manifest says, or None.

    Args:
        record: a manifest file record (``name``, ``bytes``, ``sha256``, optional stamp:
            ``mtime_ns`` or ``etag``, the folder's `stamp_key`).
        full: hash the file even when its size and recorded stamp match.
    """
    folder = open_output(out_dir)
    stamp = folder.stamp(record["name"])
    if stamp is None:
        return "missing"
    if stamp[0] != record["bytes"]:
        return f"{stamp[0]:,} bytes, the manifest says {record['bytes']:,}"
    if not full and stamp[1] is not None and record.get(folder.stamp_key) == stamp[1]:
        return None
    if folder.digest(record["name"])[1] != record["sha256"]:
        return "content differs from the manifest (SHA-256)"
    return None


def listed_files(manifest: Mapping[str, Any]) -> Iterator[tuple[int | None, Mapping[str, Any]]]:
    """(shard index, file record) of every shard file, then (None, record) of each extra file."""
    for shard in manifest.get("shards", []):
        for record in shard["files"]:
            yield int(shard["index"]), record
    for record in manifest.get("totals", {}).get("extra_files", []):
        yield None, record


def check_manifest(out_dir: Location, manifest: Mapping[str, Any]) -> None:
    """Refuse a manifest samplegen did not write or that names files it would not write.

    Raises:
        ConfigError: no ``"tool": "samplegen"``, a malformed record, or a listed name that is not
            a top-level samplegen output name inside `out_dir`.
    """
    folder = open_output(out_dir)
    where = folder.show(MANIFEST_NAME)
    if not is_samplegen_manifest(manifest):
        raise ConfigError(f"{where} was not written by samplegen (no \"tool\": \"samplegen\"); "
                          "samplegen leaves this folder alone: choose another --out")
    try:
        for index, record in listed_files(manifest):
            name = record["name"]
            int(record["bytes"]), str(record["sha256"])
            if not isinstance(name, str) or name == MANIFEST_NAME or not (
                    is_shard_name(name) if index is not None else is_plain_name(name)):
                raise ConfigError(f"{where} lists {name!r}, which is not a samplegen output file inside "
                                  f"{folder.show()}; refusing to touch it (remove the folder yourself)")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{where}: malformed manifest ({type(exc).__name__}: {exc})") from None


def listed_names(manifest: Mapping[str, Any]) -> set[str]:
    return {record["name"] for _, record in listed_files(manifest)}


def unlisted_shards(out_dir: Location, listed: set[str]) -> list[str]:
    """Names of the top-level entries named like shards that `listed` does not hold (another
    run's leftovers), sorted."""
    return [name for name in open_output(out_dir).names() if is_shard_name(name) and name not in listed]


@dataclass
class ShardCheck:
    """What `check_shards` found: shards to keep (with their stamps) and those to redo."""

    kept: dict[int, ShardResult] = field(default_factory=dict)
    stamps: dict[str, Any] = field(default_factory=dict)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (index, file, why)


def check_shards(out_dir: Location, manifest: Mapping[str, Any], full: bool, recheck_last: int) -> ShardCheck:
    """Which shards of a previous manifest are intact in `out_dir`.

    Args:
        full: hash every file (``--verify``).
        recheck_last: hash the files of this many shards recorded last (by recorded mtime; not
            in object storage, where a file is complete or absent).
    """
    folder = open_output(out_dir)
    shards = manifest.get("shards", [])
    last: set[int] = set()
    if recheck_last > 0 and folder.torn_tail:
        times = {int(s["index"]): max((f.get("mtime_ns") or 0) for f in s["files"]) if s["files"] else 0
                 for s in shards}
        last = set(sorted(times, key=lambda i: (times[i], i))[-recheck_last:])
    check = ShardCheck()
    for entry in shards:
        result = ShardResult.from_json(entry)
        problems = [(f["name"], p) for f in entry["files"]
                    if (p := file_problem(folder, f, full or result.index in last)) is not None]
        if problems:
            check.failed.extend((result.index, name, why) for name, why in problems)
            continue
        check.kept[result.index] = result
        for f in result.files:
            stamp = folder.stamp(f.name)
            if stamp is not None and stamp[1] is not None:
                check.stamps[f.name] = stamp[1]
    return check


@dataclass(frozen=True)
class VerifyReport:
    """`verify_output`'s answer: files and bytes checked, what is wrong (name, why)."""

    out: Path | str
    files: int
    bytes: int
    complete: bool
    problems: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {"out": str(self.out), "ok": self.ok, "complete": self.complete, "files": self.files,
                "bytes": self.bytes, "problems": [{"file": n, "problem": p} for n, p in self.problems]}


def verify_output(out_dir: Location) -> VerifyReport:
    """Hash every file the manifest of `out_dir` (a path, URL or `OutputFolder`) lists and
    compare; list what else is there.

    Problems: a listed file missing, of another size or content; a shard-named file the
    manifest does not list (a glob-based loader would read it); a temporary file of an
    interrupted run; an incomplete run.

    Raises:
        ConfigError: no manifest, or one samplegen did not write (`check_manifest`).
    """
    folder = open_output(out_dir)
    out = folder.root if isinstance(folder, LocalFolder) else folder.show()
    manifest = read_manifest(folder)
    if manifest is None:
        raise ConfigError(f"{folder.show()}: no {MANIFEST_NAME}, not a samplegen output folder")
    check_manifest(folder, manifest)
    problems, files, total = [], 0, 0
    for _, record in listed_files(manifest):
        files += 1
        total += int(record["bytes"])
        problem = file_problem(folder, record, full=True)
        if problem is not None:
            problems.append((record["name"], problem))
    names = folder.names()
    listed = listed_names(manifest)
    problems += [(name, "not listed in the manifest (left by another run?)")
                 for name in names if is_shard_name(name) and name not in listed]
    problems += [(name, "temporary file of an interrupted run") for name in names if is_temporary_name(name)]
    complete = bool(manifest.get("complete"))
    if not complete:
        problems.append((MANIFEST_NAME, f"run incomplete: {len(manifest.get('shards', []))} of "
                                        f"{manifest.get('planned_shards')} planned shards; rerun with --resume"))
    return VerifyReport(out, files, total, complete, tuple(problems))


def damaged_shard(path: str | Path, detail: str) -> RunError:
    """The error a reader raises for a shard it cannot read: names it, says it is damaged."""
    folder = Path(path).parent
    return RunError(f"{path}: damaged shard ({detail}); `samplegen verify {folder}` lists what "
                    "differs, --resume rewrites it")


def require_intact_size(out_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """The path of a listed shard file, after checking its size (a cheap stat): readers call it
    before opening a shard, so a truncated file is named instead of failing deep in a parser.
    Local folders only.

    Raises:
        RunError: the file is missing or not of the recorded size (`damaged_shard`).
    """
    path = Path(out_dir) / record["name"]
    stamp = file_stamp(path)
    if stamp is None:
        raise damaged_shard(path, "missing")
    if stamp[0] != int(record["bytes"]):
        raise damaged_shard(path, f"{stamp[0]:,} bytes, the manifest says {int(record['bytes']):,}")
    return path
