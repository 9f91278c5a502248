"""Checking an output folder against its manifest: what `--resume` keeps and `samplegen verify` says.

A file record holds its size and SHA-256 (and, while the run is incomplete, ``mtime_ns``). The
full check hashes the file; the fast check trusts a file whose size and modification time are
the recorded ones, since any write to it (a flipped byte, zeros over it, another shard of the
same size moved in its place) gives it a new modification time. `--resume` uses the fast check
except with ``--verify``, for files recorded without a time, and for the shards written last
before the run stopped (those a crash could have caught in the middle of reaching the disk).

Every name a manifest lists must be a top-level name inside the folder: a shard name
(`samplegen.writers.base.is_shard_name`) for shard files, a plain file name for the files a job
merged from them. A manifest naming ``../victim``, an absolute path or a subfolder's file is
refused, never followed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from samplegen.engine.manifest import MANIFEST_NAME, is_samplegen_manifest, read_manifest
from samplegen.engine.task import ShardResult
from samplegen.errors import ConfigError, RunError
from samplegen.writers.base import folder_digest, is_plain_name, is_shard_name, is_temporary_name, sha256_file


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(bytes, mtime_ns) of a file, or of a shard folder (total bytes, latest mtime of the folder
    and everything in it); None when absent."""
    if path.is_symlink():
        return None  # samplegen never writes links: a link in a shard's place is not its file
    if path.is_file():
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    if path.is_dir():
        total, latest = 0, path.stat().st_mtime_ns
        for child in path.rglob("*"):
            st = child.lstat()
            latest = max(latest, st.st_mtime_ns)
            if child.is_file():
                total += st.st_size
        return total, latest
    return None


def _hash(path: Path) -> tuple[int, str]:
    if path.is_dir():
        return folder_digest(path)
    return path.stat().st_size, sha256_file(path)


def file_problem(out_dir: Path, record: Mapping[str, Any], full: bool) -> str | None:
    """Why the file `record` describes does not hold what the manifest says, or None.

    Args:
        record: a manifest file record (``name``, ``bytes``, ``sha256``, optional ``mtime_ns``).
        full: hash the file even when its size and recorded mtime match.
    """
    path = out_dir / record["name"]
    stamp = file_stamp(path)
    if stamp is None:
        return "missing"
    if stamp[0] != record["bytes"]:
        return f"{stamp[0]:,} bytes, the manifest says {record['bytes']:,}"
    if not full and record.get("mtime_ns") == stamp[1]:
        return None
    if _hash(path)[1] != record["sha256"]:
        return "content differs from the manifest (SHA-256)"
    return None


def listed_files(manifest: Mapping[str, Any]) -> Iterator[tuple[int | None, Mapping[str, Any]]]:
    """(shard index, file record) of every shard file, then (None, record) of each extra file."""
    for shard in manifest.get("shards", []):
        for record in shard["files"]:
            yield int(shard["index"]), record
    for record in manifest.get("totals", {}).get("extra_files", []):
        yield None, record


def check_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> None:
    """Refuse a manifest samplegen did not write or that names files it would not write.

    Raises:
        ConfigError: no ``"tool": "samplegen"``, a malformed record, or a listed name that is not
            a top-level samplegen output name inside `out_dir`.
    """
    where = out_dir / MANIFEST_NAME
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
                                  f"{out_dir}; refusing to touch it (remove the folder yourself)")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{where}: malformed manifest ({type(exc).__name__}: {exc})") from None


def listed_names(manifest: Mapping[str, Any]) -> set[str]:
    return {record["name"] for _, record in listed_files(manifest)}


def unlisted_shards(out_dir: Path, listed: set[str]) -> list[Path]:
    """Top-level entries named like shards that `listed` does not hold (another run's leftovers)."""
    if not out_dir.is_dir():
        return []
    return sorted(p for p in out_dir.iterdir() if is_shard_name(p.name) and p.name not in listed)


@dataclass
class ShardCheck:
    """What `check_shards` found: shards to keep (with their stamps) and those to redo."""

    kept: dict[int, ShardResult] = field(default_factory=dict)
    stamps: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (index, file, why)


def check_shards(out_dir: Path, manifest: Mapping[str, Any], full: bool, recheck_last: int) -> ShardCheck:
    """Which shards of a previous manifest are intact on disk.

    Args:
        full: hash every file (``--verify``).
        recheck_last: hash the files of this many shards recorded last (by recorded mtime).
    """
    shards = manifest.get("shards", [])
    times = {int(s["index"]): max((f.get("mtime_ns") or 0) for f in s["files"]) if s["files"] else 0
             for s in shards}
    last = set(sorted(times, key=lambda i: (times[i], i))[-recheck_last:]) if recheck_last > 0 else set()
    check = ShardCheck()
    for entry in shards:
        result = ShardResult.from_json(entry)
        problems = [(f["name"], p) for f in entry["files"]
                    if (p := file_problem(out_dir, f, full or result.index in last)) is not None]
        if problems:
            check.failed.extend((result.index, name, why) for name, why in problems)
            continue
        check.kept[result.index] = result
        for f in result.files:
            stamp = file_stamp(out_dir / f.name)
            check.stamps[f.name] = stamp[1]
    return check


@dataclass(frozen=True)
class VerifyReport:
    """`verify_output`'s answer: files and bytes checked, what is wrong (name, why)."""

    out: Path
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


def verify_output(out_dir: str | Path) -> VerifyReport:
    """Hash every file the manifest of `out_dir` lists and compare; list what else is there.

    Problems: a listed file missing, of another size or content; a shard-named file the
    manifest does not list (a glob-based loader would read it); a temporary file of an
    interrupted run; an incomplete run.

    Raises:
        ConfigError: no manifest, or one samplegen did not write (`check_manifest`).
    """
    out = Path(out_dir)
    manifest = read_manifest(out)
    if manifest is None:
        raise ConfigError(f"{out}: no {MANIFEST_NAME}, not a samplegen output folder")
    check_manifest(out, manifest)
    problems, files, total = [], 0, 0
    for _, record in listed_files(manifest):
        files += 1
        total += int(record["bytes"])
        problem = file_problem(out, record, full=True)
        if problem is not None:
            problems.append((record["name"], problem))
    problems += [(p.name, "not listed in the manifest (left by another run?)")
                 for p in unlisted_shards(out, listed_names(manifest))]
    problems += [(p.name, "temporary file of an interrupted run")
                 for p in sorted(out.iterdir()) if is_temporary_name(p.name)]
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
