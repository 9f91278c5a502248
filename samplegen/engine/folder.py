"""What a run finds in its output folder, and what it may do about it before writing.

The rules, in order:

* a ``manifest.json`` samplegen did not write, one it cannot read, or one naming files samplegen
  would not write (``../victim``, an absolute path, ``notes.csv``) stops the run with exit 2 and
  nothing is touched, whatever the flags;
* no manifest: files named like shards (``NAME-000042...``) or a ``_shards`` folder (shard
  records) that nobody lists stop the run (they are not provably samplegen's, and a glob-based
  loader would mix them in);
* with a manifest, entries named like shards whose prefix is neither this run's nor one the
  manifest lists (a user's ``IMG-000123.jpg``) stop ``--overwrite`` and ``--resume`` before
  anything is touched: samplegen deletes only names it writes;
* ``--overwrite`` removes the shards the manifest lists (with the shard records), the merged files it lists if they are
  still what it recorded (size and SHA-256: a forged record cannot name a user's file), the
  other entries named like this run's shards, then the manifest;
* without a flag, the same finished run (same fingerprint, files of the recorded sizes) is
  reported as already complete (exit 0); anything else is refused, saying which flag applies;
* ``--resume`` (same fingerprint only) keeps the shards that pass `samplegen.engine.verify`,
  removes the files of those that fail and the entries named like this run's shards that the
  manifest does not list (written after its last rewrite, before a crash).

The rules are the same in a local folder and in object storage: they go through an
`samplegen.engine.storage.OutputFolder`.
"""
from __future__ import annotations

import sys
import os
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping

from samplegen.engine.manifest import MANIFEST_NAME, RunDescription, read_manifest
from samplegen.engine.shard_records import RECORDS_DIR, remove_shard_records
from samplegen.engine.storage import OutputFolder, open_output
from samplegen.engine.task import ShardResult
from samplegen.engine.verify import (
    check_manifest, check_shards, file_problem, listed_files, listed_names, unlisted_shards)
from samplegen.errors import ConfigError


def notify(message: str) -> None:
    """One line for the user on stderr (stdout is the command's JSON)."""
    print(f"samplegen: {message}", file=sys.stderr, flush=True)


@dataclass
class FolderState:
    """Shards to keep (and their files' stamps), or the manifest of the same finished run."""

    shards: dict[int, ShardResult] = field(default_factory=dict)
    stamps: dict[str, Any] = field(default_factory=dict)
    finished: dict | None = None


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [k for key in keys for k in _changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".") or "(root)"]


def _differences(previous: Mapping[str, Any], run: RunDescription) -> str:
    changed = _changed_keys(
        {k: previous.get(k) for k in ("command", "version", "runtime", "config", "seed", "layout", "shard_size")}
        | {"inputs": [i.get("sha256") for i in previous.get("inputs", [])]},
        {"command": run.command, "version": run.version, "runtime": dict(run.runtime), "config": run.config,
         "seed": run.seed, "layout": run.layout, "shard_size": run.shard_size,
         "inputs": [i["sha256"] for i in run.inputs]})
    return ", ".join(changed[:6]) or "fingerprint"


def _read(out: OutputFolder) -> dict | None:
    try:
        return read_manifest(out)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; samplegen leaves this folder alone: remove the manifest yourself "
                          "or choose another --out") from None


def _sizes_hold(out: OutputFolder, manifest: Mapping[str, Any]) -> bool:
    return all((s := out.stamp(r["name"])) is not None and s[0] == r["bytes"]
               for _, r in listed_files(manifest))


def shard_prefix(name: str) -> str:
    """``pnet`` of ``pnet-000042.images.npy`` (prefixes hold no ``-``)."""
    return name.split("-", 1)[0]


def _refuse_foreign(out: OutputFolder, previous: Mapping[str, Any], prefixes: Collection[str]) -> None:
    """Stop before touching anything when shard-like names of another origin are in the folder."""
    own = set(prefixes) | {shard_prefix(name) for name in listed_names(previous)}
    foreign = [name for name in unlisted_shards(out, set()) if shard_prefix(name) not in own]
    if foreign:
        raise ConfigError(f"{out.show()} holds {len(foreign)} entries named like shards that no samplegen run here "
                          f"wrote ({_names(foreign)}); samplegen deletes only its own files: move them or choose "
                          "another --out")


def _remove_strays(out: OutputFolder, listed: set[str], why: str) -> None:
    strays = unlisted_shards(out, listed)
    for name in strays:
        out.remove(name)
    if strays:
        notify(f"removed {len(strays)} shard-named entries of {out.show()} that {why} ({_names(strays)})")


def prepare_folder(run: RunDescription, out_dir: str | os.PathLike | OutputFolder, resume: bool, overwrite: bool,
                   verify: bool = False, recheck_last: int = 4, prefixes: Collection[str] = ()) -> FolderState:
    """Apply the rules above to `out_dir` (which exists) for `run`; returns what to keep.

    Args:
        prefixes: the shard name prefixes the run's job writes (`job_prefixes`); with the
            manifest's, the only shard-like names ``--overwrite`` / ``--resume`` may remove.
        verify: on resume, hash every kept file (otherwise size + mtime, and a hash only for the
            `recheck_last` shards recorded last and files recorded without a time).

    Raises:
        ConfigError: the folder is refused (see the module docstring).
    """
    out = open_output(out_dir)
    previous = _read(out)
    if previous is None:
        strays = unlisted_shards(out, set())
        if out.exists(RECORDS_DIR):
            strays.append(RECORDS_DIR)
        if strays:
            raise ConfigError(f"{out.show()} holds {len(strays)} entries named like shards ({_names(strays)}) but no "
                              f"{MANIFEST_NAME}, so not provably samplegen's: remove them or choose another --out")
        return FolderState()
    check_manifest(out, previous)
    if overwrite or resume:
        _refuse_foreign(out, previous, prefixes)
    if overwrite:
        for index, record in listed_files(previous):
            if index is not None or file_problem(out, record, full=True) in (None, "missing"):
                out.remove(record["name"])
            else:
                notify(f"kept {out.show(record['name'])}: it is not the file the manifest recorded")
        _remove_strays(out, set(), "no manifest listed")
        remove_shard_records(out)
        out.remove_files([MANIFEST_NAME])
        return FolderState()
    same = previous.get("fingerprint") == run.fingerprint
    if not resume:
        if same and previous.get("complete") and _sizes_hold(out, previous):
            return FolderState(finished=previous)
        if same:
            state = "an unfinished run" if not previous.get("complete") else "this run with files missing"
            raise ConfigError(f"{out.show()} already holds {state} of this configuration; use --resume to continue it "
                              "or --overwrite to replace it")
        raise ConfigError(f"{out.show()} already holds a samplegen run with another configuration "
                          f"({_differences(previous, run)}); use --overwrite to replace it, or --resume after "
                          "restoring that configuration")
    if not same:
        raise ConfigError(f"cannot resume {out.show()}: the configuration differs from the previous run "
                          f"({_differences(previous, run)}); use --overwrite to start again")
    return _resume(out, previous, verify, recheck_last)


def _resume(out: OutputFolder, previous: Mapping[str, Any], verify: bool, recheck_last: int) -> FolderState:
    try:
        check = check_shards(out, previous, verify, recheck_last)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{out.show(MANIFEST_NAME)}: malformed manifest ({type(exc).__name__}: {exc})") from None
    failed = sorted({index for index, _, _ in check.failed})
    for shard in previous.get("shards", []):
        if int(shard["index"]) in failed:
            for record in shard["files"]:
                out.remove(record["name"])
    if failed:
        index, name, why = check.failed[0]
        notify(f"{len(failed)} shards of {out.show()} do not match the manifest and will be written again "
               f"(first: {name}: {why})")
    _remove_strays(out, listed_names({"shards": [s.as_json() for s in check.kept.values()]}),
                   "the manifest does not list")
    return FolderState(check.kept, check.stamps)


def refused_whatever_the_flags(out_dir: str | os.PathLike | OutputFolder) -> bool:
    """Whether `prepare_folder` refuses `out_dir` for every run and flag: a manifest samplegen
    did not write or cannot read, or entries named like shards with no manifest. A command that
    writes into ``--out`` before the engine does (mining's ``_mined/``) asks this first, so such a
    folder is left as it was found."""
    out = open_output(out_dir)
    try:
        previous = _read(out)
        if previous is None:
            return bool(unlisted_shards(out, set())) or out.exists(RECORDS_DIR)
        check_manifest(out, previous)
    except ConfigError:
        return True
    return False


def job_prefixes(job: Any) -> set[str]:
    """The shard name prefixes of `job` and of the jobs it wraps (``prefix`` and ``job``
    attributes; a `--size 12,24,48` job's siblings write into their own folders)."""
    found: set[str] = set()
    stack = [job]
    while stack:
        current = stack.pop()
        prefix = getattr(current, "prefix", None)
        if isinstance(prefix, str):
            found.add(prefix)
        inner = getattr(current, "job", None)
        if inner is not None:
            stack.append(inner)
    return found
