"""Run shard tasks into an output folder: refuse, resume or overwrite; manifest; progress.

The loop is the same for every command. A job object (picklable) turns one `ShardTask` into one
committed shard and a `ShardResult`; this module decides which tasks still need running, feeds
them to a distributor, records each completed shard (`samplegen.engine.shard_records`) and
checkpoints the manifest now and then. Killing the run at any moment leaves complete shards and
a manifest plus records listing them; ``--resume`` runs the rest, and
because each shard's bytes depend only on its task, the result equals an uninterrupted run.

The run holds the folder's lock (`samplegen.engine.lock`) throughout. When it stops early (Ctrl-C,
SIGTERM, a worker dying, a full disk, too many skipped images) it kills its workers, removes their
temporary files and the shard files the manifest does not list, and raises one error that says
so: nothing half-written stays behind, and ``--resume`` continues from the manifest.

The output is a local path or an object-storage URL (`samplegen.engine.storage`); for the latter
the workers write each shard into a local spool folder and upload it (`samplegen.engine.spool`),
and there is no lock (`samplegen.engine.object_store`). Everything else, rules and bytes, is the
same.
"""
from __future__ import annotations

import contextlib
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from samplegen.engine.distribute import WorkerLost, WorkerPool
from samplegen.engine.folder import FolderState, job_prefixes, notify, prepare_folder
from samplegen.engine.manifest import (
    MANIFEST_NAME, RunDescription, all_skipped, manifest_json, read_manifest, write_manifest)
from samplegen.engine.task import ShardJob, ShardResult, ShardTask
from samplegen.engine.progress import progress_bar
from samplegen.engine.shard_records import CheckpointPolicy, remove_shard_records, write_shard_record
from samplegen.engine.spool import SpooledJob, SpoolRoot, check_spoolable, finalize_remote
from samplegen.engine.storage import OutputFolder, open_output
from samplegen.engine.verify import listed_names, unlisted_shards
from samplegen.errors import ConfigError, Interrupted, RunError, Terminated
from samplegen.writers.base import ShardFile, is_plain_name, is_shard_name

RESUME_HINT = "completed shards are kept, rerun with --resume"


@dataclass(frozen=True)
class EngineSettings:
    """How to run (none of it changes the output bytes).

    `out_dir`: a local folder (`Path`), or a URL string (``s3://bucket/prefix``, ``file:///abs``).
    `verify`: on resume, hash every kept shard instead of trusting size + stamp.
    `checkpoints`: makes the policy deciding when to rewrite the manifest during a run.
    """

    out_dir: Path | str
    workers: int = 1
    resume: bool = False
    overwrite: bool = False
    max_errors: int = 0
    progress: bool = True
    verify: bool = False
    checkpoints: Callable[[], CheckpointPolicy] = CheckpointPolicy


@dataclass(frozen=True)
class RunOutcome:
    """The final manifest (as written) and how many shards were kept from a previous run."""

    manifest: dict
    resumed_shards: int

    def summary(self) -> dict:
        """The JSON object a command prints on stdout."""
        return {"command": self.manifest["command"], **self.manifest["totals"],
                "resumed_shards": self.resumed_shards, "fingerprint": self.manifest["fingerprint"]}


def make_folder(out: Path | str) -> None:
    """Create `out`; a path below a file or naming one is an `OSError` naming it (exit 1)."""
    open_output(out).make()


def execute(job: ShardJob, tasks: Sequence[ShardTask], run: RunDescription,
            settings: EngineSettings, pool: WorkerPool | None = None) -> RunOutcome:
    """Run the pending tasks of `job`; returns the final manifest (also written to disk).

    Images skipped while planning (``run.skipped``) count against ``max_errors`` like images
    skipped in workers; the check runs before the first shard too, so a run whose every image
    was skipped while planning fails instead of succeeding with nothing. `pool` lets a command
    reuse the workers of an earlier stage; without it the run starts (and stops) its own.

    Raises:
        ConfigError: the folder is refused or in use by another run (exit 2).
        RunError: over ``max_errors``, or a worker died (exit 1).
        Interrupted: Ctrl-C or SIGTERM (exit 130 / 143), after cleaning up.
        OSError: the file system failed (disk full, read-only...), after cleaning up.
    """
    out = open_output(settings.out_dir)
    if out.remote:
        check_spoolable(job)
    out.make()
    with out.lock():
        try:
            state = prepare_folder(run, out, settings.resume, settings.overwrite, settings.verify,
                                   recheck_last=max(4, 2 * settings.workers), prefixes=job_prefixes(job))
        except (KeyboardInterrupt, Terminated) as exc:
            raise _explained(exc, out) from None
        if state.finished is not None:
            notify(f"{out.show()} already complete: {state.finished['totals'].get('samples', 0)} samples; "
                   "--overwrite to redo")
            remove_shard_records(out)  # left if the run was stopped right after its last write
            return RunOutcome(state.finished, len(state.finished.get("shards", [])))
        # Workers need the job's module: preloaded in the fork server.
        workers = pool if pool is not None else WorkerPool(settings.workers, (type(job).__module__,))
        resumed = len(state.shards)
        with SpoolRoot() if out.remote else contextlib.nullcontext() as spool:
            try:
                final = _run(job, tasks, run, settings, workers, state, out, spool)
            except BaseException as exc:
                before, cause = (exc.before, exc.__cause__) if isinstance(exc, _Finalizing) else (None, exc)
                _stop(workers)
                _clean_after_failure(out, before)
                explained = _explained(cause, out)
                if explained is cause:
                    raise cause
                raise explained from None
        if pool is None:
            workers.__exit__(None, None, None)
        return RunOutcome(final, resumed)


class _Finalizing(Exception):
    """`job.finalize` failed (the cause); `before`: inodes of the plain files before it ran."""

    def __init__(self, before: dict[str, int]) -> None:
        self.before = before


def _run(job: ShardJob, tasks: Sequence[ShardTask], run: RunDescription, settings: EngineSettings,
         workers: Any, state: FolderState, out: OutputFolder, spool: SpoolRoot | None) -> dict:
    out.remove_temporaries()
    shards, stamps = state.shards, state.stamps
    pending = [task for task in tasks if task.index not in shards]
    write_manifest(out, _incomplete(run, shards, stamps, out))
    remove_shard_records(out)  # the kept shards are listed now; the others are being redone
    check_errors(run, shards, settings)
    skipped = len(run.skipped) + sum(len(s.skipped) for s in shards.values())  # kept up to date: O(1) a shard
    bar = progress_bar(sum(len(t.items) for t in tasks), run.command, settings.progress)
    policy, fingerprint = settings.checkpoints(), run.fingerprint
    recorded: list[int] = []  # shards with a record, not yet in the manifest on disk
    shard_fn = SpooledJob(job, out.show(), spool.path).run_shard if spool is not None else job.run_shard
    try:
        bar.update(sum(s.images for s in shards.values()))
        for result in workers.map(shard_fn, pending):
            shards[result.index] = result
            for f in result.files:
                stamp = out.stamp(f.name)
                if stamp is not None and stamp[1] is not None:
                    stamps[f.name] = stamp[1]
            write_shard_record(out, fingerprint, result, stamps)
            recorded.append(result.index)
            if policy.due(len(shards) - len(recorded), len(recorded)):
                started = time.monotonic()
                write_manifest(out, _incomplete(run, shards, stamps, out))
                remove_shard_records(out, recorded)
                recorded = []
                policy.written(time.monotonic() - started)
            bar.update(result.images)
            skipped += len(result.skipped)
            if skipped > settings.max_errors:
                # The manifest the error points to lists every skip so far, not only the records.
                write_manifest(out, _incomplete(run, shards, stamps, out))
                remove_shard_records(out, recorded)
                check_errors(run, shards, settings)
    finally:
        bar.close()
    out.remove_temporaries()  # a retried task's dead first attempt (Ray) may have left one
    before = _extra_stats(out)
    try:
        listed = [shards[i] for i in sorted(shards)]
        extra = job.finalize(out.root, listed) if spool is None else finalize_remote(job, out, listed, spool.path)
        totals = summarize(shards.values(), extra) | {"skipped_images": len(all_skipped(run, shards))}
        final = manifest_json(run, shards, complete=True, totals=totals)
        write_manifest(out, final)
    except BaseException as exc:
        raise _Finalizing(before) from exc
    remove_shard_records(out)  # the complete manifest lists every shard
    return final


def _incomplete(run: RunDescription, shards: dict[int, ShardResult], stamps: dict, out: OutputFolder) -> dict:
    return manifest_json(run, shards, complete=False, stamps=stamps, stamp_key=out.stamp_key)


def _extra_stats(out: OutputFolder) -> dict[str, Any]:
    """Identity (inode, ETag) of each top-level plain file but the manifest (merged lists...)."""
    return {name: identity for name, identity in out.file_identities().items()
            if is_plain_name(name) and not is_shard_name(name) and name != MANIFEST_NAME}


def _stop(workers: Any) -> None:
    """Stop the workers at once (`WorkerPool.abort`); a pool without `abort` is left to its owner."""
    abort = getattr(workers, "abort", None)
    if abort is not None:
        abort()


def _clean_after_failure(out: OutputFolder, before_finalize: dict[str, Any] | None) -> None:
    """Remove what the stopped run left: temporary files, shard files the manifest on disk does
    not list (committed after its last rewrite, or half of a two-file shard) and, when
    `job.finalize` failed, the merged files it had written: new names, or names replaced by a
    rename (a new inode; a log file the user appends to keeps its inode; in object storage, a
    new ETag or time). The manifest is read back, not remembered: a signal may land between its
    rewrite and any bookkeeping here."""
    try:
        out.remove_temporaries()
        manifest = read_manifest(out)
        if manifest is None:
            return
        listed = listed_names(manifest)
        for name in unlisted_shards(out, listed):
            out.remove(name)
        if before_finalize is not None:
            for name, identity in _extra_stats(out).items():
                if name not in listed and before_finalize.get(name) != identity:
                    out.remove(name)
    except (OSError, ConfigError, KeyError, TypeError):
        pass  # the original error says more; the next run cleans up


def _explained(exc: BaseException, out: OutputFolder) -> BaseException:
    """The one-line error for an interruption, a lost worker or a file-system error that names
    no file (the rest pass through)."""
    if isinstance(exc, KeyboardInterrupt):
        return Interrupted(f"interrupted; {RESUME_HINT}")
    if isinstance(exc, Terminated):
        return Interrupted(f"terminated by {signal.Signals(exc.signum).name}; {RESUME_HINT}", 128 + exc.signum)
    if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:
        return type(exc)(exc.errno, exc.strerror, out.show())
    if isinstance(exc, WorkerLost):
        indices = sorted(t.index for t in exc.tasks if isinstance(t, ShardTask))
        which = f"shard {indices[0]}" if len(indices) == 1 else f"one of shards {', '.join(map(str, indices))}"
        return RunError(f"a worker died while writing {which}; {RESUME_HINT}")
    return exc


def check_errors(run: RunDescription, shards: dict[int, ShardResult], settings: EngineSettings) -> None:
    """RunError when more images were skipped (planning + shards so far) than ``max_errors``."""
    skipped = all_skipped(run, shards)
    if len(skipped) > settings.max_errors:
        image, reason = skipped[-1]
        raise RunError(f"{len(skipped)} images could not be used ({skip_reasons(skipped)}; e.g. {image}: {reason}), "
                       f"more than --max-errors {settings.max_errors}; see "
                       f"{open_output(settings.out_dir).show(MANIFEST_NAME)}")


def skip_reasons(skipped: Sequence[tuple[str, str]]) -> dict[str, int]:
    """How many of the `skipped` (image, reason) pairs have each reason, by reason."""
    return dict(sorted(Counter(reason for _, reason in skipped).items()))


def summarize(shards: Any, extra: Sequence[ShardFile]) -> dict:
    """Totals over shard results (no run-dependent values: the manifest stays reproducible)."""
    shards = list(shards)
    counts: Counter[str] = Counter()
    for shard in shards:
        counts.update(shard.counts)
    return {
        "shards": len(shards),
        "images": sum(s.images for s in shards),
        "skipped_images": sum(len(s.skipped) for s in shards),
        "samples": sum(s.samples for s in shards),
        "counts": dict(sorted(counts.items())),
        "bytes": sum(f.bytes for s in shards for f in s.files) + sum(f.bytes for f in extra),
        "extra_files": [f.as_json() for f in extra],
    }
