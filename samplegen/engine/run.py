"""Run shard tasks into an output folder: refuse, resume or overwrite; manifest; progress.

The loop is the same for every command. A job object (picklable) turns one `ShardTask` into one
committed shard and a `ShardResult`; this module decides which tasks still need running, feeds
them to a distributor, and rewrites the manifest after each completed shard. Killing the run at
any moment leaves complete shards and a manifest listing them; ``--resume`` runs the rest, and
because each shard's bytes depend only on its task, the result equals an uninterrupted run.
"""
from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from samplegen.engine.distribute import WorkerPool
from samplegen.engine.manifest import (
    MANIFEST_NAME, RunDescription, all_skipped, completed_shards, manifest_json, read_manifest, write_manifest)
from samplegen.engine.task import ShardJob, ShardResult, ShardTask
from samplegen.engine.progress import progress_bar
from samplegen.errors import ConfigError, RunError
from samplegen.writers.base import ShardFile, remove_temporaries


@dataclass(frozen=True)
class EngineSettings:
    """How to run (none of it changes the output bytes)."""

    out_dir: Path
    workers: int = 1
    resume: bool = False
    overwrite: bool = False
    max_errors: int = 0
    progress: bool = True


def _changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [k for key in keys for k in _changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [prefix.rstrip(".") or "(root)"]


def _previous_state(run: RunDescription, settings: EngineSettings) -> dict[int, ShardResult]:
    """Completed shards to keep, after applying the resume/overwrite rules to the folder."""
    out = settings.out_dir
    previous = read_manifest(out)
    if previous is None:
        return {}
    if settings.overwrite:
        written = [f for shard in previous.get("shards", []) for f in shard.get("files", [])]
        written += previous.get("totals", {}).get("extra_files", [])  # e.g. merged list files
        for f in written:
            target = out / f["name"]
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        return {}
    if not settings.resume:
        raise ConfigError(f"{out} already holds a samplegen run; use --resume to continue it "
                          "or --overwrite to replace it")
    if previous.get("fingerprint") != run.fingerprint:
        changed = _changed_keys(
            {k: previous.get(k) for k in ("command", "version", "config", "seed", "layout", "shard_size")}
            | {"inputs": [i.get("sha256") for i in previous.get("inputs", [])]},
            {"command": run.command, "version": run.version, "config": run.config, "seed": run.seed,
             "layout": run.layout, "shard_size": run.shard_size,
             "inputs": [i["sha256"] for i in run.inputs]})
        raise ConfigError(f"cannot resume {out}: the configuration differs from the previous run "
                          f"({', '.join(changed[:6]) or 'fingerprint'}); use --overwrite to start again")
    return completed_shards(previous, out)


@dataclass(frozen=True)
class RunOutcome:
    """The final manifest (as written) and how many shards were kept from a previous run."""

    manifest: dict
    resumed_shards: int

    def summary(self) -> dict:
        """The JSON object a command prints on stdout."""
        return {"command": self.manifest["command"], **self.manifest["totals"],
                "resumed_shards": self.resumed_shards, "fingerprint": self.manifest["fingerprint"]}


def execute(job: ShardJob, tasks: Sequence[ShardTask], run: RunDescription,
            settings: EngineSettings, pool: WorkerPool | None = None) -> RunOutcome:
    """Run the pending tasks of `job`; returns the final manifest (also written to disk).

    Images skipped while planning (``run.skipped``) count against ``max_errors`` like images
    skipped in workers; the check runs before the first shard too, so a run whose every image
    was skipped while planning fails instead of succeeding with nothing. `pool` lets a command
    reuse the workers of an earlier stage; without it the run starts (and stops) its own.
    """
    out = settings.out_dir
    out.mkdir(parents=True, exist_ok=True)
    shards = _previous_state(run, settings)
    remove_temporaries(out)
    resumed = len(shards)
    pending = [task for task in tasks if task.index not in shards]
    write_manifest(out, manifest_json(run, shards, complete=False))
    check_errors(run, shards, settings)
    bar = progress_bar(sum(len(t.items) for t in tasks), run.command, settings.progress)
    bar.update(sum(s.images for s in shards.values()))
    # Workers need the job's module: preloaded in the fork server.
    own_pool = WorkerPool(settings.workers, (type(job).__module__,)) if pool is None else None
    try:
        for result in (pool or own_pool).map(job.run_shard, pending):
            shards[result.index] = result
            write_manifest(out, manifest_json(run, shards, complete=False))
            bar.update(result.images)
            check_errors(run, shards, settings)
    finally:
        bar.close()
        if own_pool is not None:
            own_pool.__exit__(None, None, None)
    extra = job.finalize(out, [shards[i] for i in sorted(shards)])
    final = manifest_json(run, shards, complete=True,
                          totals=summarize(shards.values(), extra) | {"skipped_images": len(all_skipped(run, shards))})
    write_manifest(out, final)
    return RunOutcome(final, resumed)


def check_errors(run: RunDescription, shards: dict[int, ShardResult], settings: EngineSettings) -> None:
    """RunError when more images were skipped (planning + shards so far) than ``max_errors``."""
    skipped = all_skipped(run, shards)
    if len(skipped) > settings.max_errors:
        raise RunError(f"{len(skipped)} images could not be used ({skip_reasons(skipped)}), more than "
                       f"--max-errors {settings.max_errors}; see {settings.out_dir / MANIFEST_NAME}")


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
