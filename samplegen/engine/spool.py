"""Jobs writing to object storage: each shard is written into a local spool folder, then uploaded.

Jobs write shard files with local writers (temp-then-rename into their ``out_dir``) and know
nothing of object storage. For a remote output the engine wraps the job in a `SpooledJob`: per
task, a copy of the job whose ``out_dir`` is a fresh local folder (``dataclasses.replace``, or
the job's own ``with_out_dir(path)`` when it has one) writes the shard; each committed file is
then uploaded to its final key (`ObjectFolder.upload`: visible only when complete, retried on
transient errors) and the folder removed, whatever happens. The result, names, sizes and
SHA-256 are those of the local files, so the manifest is the same bytes as a local run's.

The driver makes the spool root (`spool_root`, in the system temporary folder) and removes it
when the run ends, with anything a killed worker left there. A worker on another machine of a
cluster, where that folder does not exist, spools under a folder of its own temporary folder
named after the run's (`node_spool_root`): each task's spool there is named with its process id,
a task sweeps the spools of processes of that machine that are gone (a worker killed mid-shard,
retried elsewhere), and the last task to finish removes the emptied folder.

`finalize_remote` runs ``job.finalize`` in a local folder too: it first downloads the listed
shard files (unless the job says ``finalize_reads_shards = False``), then uploads the files
``finalize`` returns.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from samplegen.engine.lifeline import process_alive
from samplegen.engine.task import ShardResult, ShardTask
from samplegen.errors import ConfigError
from samplegen.writers.base import ShardFile

SPOOL_PREFIX = "samplegen-spool-"


def with_out_dir(job: Any, out_dir: str) -> Any:
    """A copy of `job` writing into `out_dir`: its ``with_out_dir`` method, or its ``out_dir``
    dataclass field replaced.

    Raises:
        ConfigError: the job has neither (it cannot write to object storage).
    """
    own = getattr(job, "with_out_dir", None)
    if own is not None:
        return own(out_dir)
    if dataclasses.is_dataclass(job) and any(f.name == "out_dir" for f in dataclasses.fields(job)):
        return dataclasses.replace(job, out_dir=out_dir)
    raise ConfigError(f"{type(job).__name__} writes only to local folders (no out_dir field nor with_out_dir): "
                      "choose a local --out")


def check_spoolable(job: Any) -> None:
    """Refuse, before any work, a job `SpooledJob` cannot redirect (`with_out_dir`)."""
    with_out_dir(job, os.devnull)


@dataclass(frozen=True)
class SpooledJob:
    """`job` writing each shard into a local folder under `spool_root`, then to `url` (picklable)."""

    job: Any
    url: str
    spool_root: str

    def run_shard(self, task: ShardTask) -> ShardResult:
        from samplegen.engine.object_store import ObjectFolder

        folder = ObjectFolder(self.url)
        here = os.path.isdir(self.spool_root)            # the driver's machine: its root, removed by it
        root = Path(self.spool_root) if here else node_spool_root(self.spool_root)
        spool = _task_spool(root, task.index, sweep=not here)
        try:
            result = with_out_dir(self.job, str(spool)).run_shard(task)
            for record in result.files:
                folder.upload(spool / record.name, record.name)
            return result
        finally:
            shutil.rmtree(spool, ignore_errors=True)
            if not here:
                _remove_if_empty(root)

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        raise RuntimeError("the engine finalizes a spooled job with finalize_remote")


def node_spool_root(spool_root: str) -> Path:
    """The folder, in this machine's temporary folder, where the tasks of the run whose driver
    spools in `spool_root` (on another machine) spool on this one."""
    # Not the driver's own name: where both machines use /tmp, the driver's path must stay
    # absent on this one, or a later task here would take this folder for the driver's.
    return Path(tempfile.gettempdir()) / f"{Path(spool_root).name}-node"


def _task_spool(root: Path, index: int, sweep: bool) -> Path:
    """A fresh spool folder for shard `index` under `root` (``shard-NNNNNN-PID-xxxx``); with
    `sweep`, first the spools under `root` of this machine's processes that have ended."""
    for attempt in range(3):
        try:
            root.mkdir(exist_ok=True)
            if sweep:
                _sweep(root)
            return Path(tempfile.mkdtemp(prefix=f"shard-{index:06d}-{os.getpid()}-", dir=root))
        except FileNotFoundError:
            if attempt == 2:   # `root` removed by a task finishing at that instant, three times over
                raise
    raise AssertionError("unreachable")


def _sweep(root: Path) -> None:
    sweep_ended(root, "shard-", pid_field=1)


def sweep_ended(parent: Path, prefix: str, pid_field: int = 0) -> None:
    """Remove the folders ``PREFIX...`` under `parent` whose name holds, as its `pid_field`-th
    ``-``-separated part after `prefix`, the id of a process of this machine that has ended
    (a run killed with SIGKILL leaves them; a live run's are kept)."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        parts = entry.name[len(prefix):].split("-")
        if len(parts) > pid_field + 1 and parts[pid_field].isdigit() and not process_alive(int(parts[pid_field])):
            shutil.rmtree(entry, ignore_errors=True)


def _remove_if_empty(root: Path) -> None:
    try:
        root.rmdir()
    except OSError:
        pass           # another task's spool is still in it (or it is gone already)


@dataclass
class SpoolRoot:
    """``with SpoolRoot() as root:`` a fresh local folder for the run's spools, removed at the end."""

    path: str = ""

    def __enter__(self) -> "SpoolRoot":
        self.path = tempfile.mkdtemp(prefix=SPOOL_PREFIX)
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def finalize_remote(job: Any, folder: Any, shards: Sequence[ShardResult], spool_root: str) -> list[ShardFile]:
    """``job.finalize`` for an output in object storage (`folder`): in a local folder holding the
    listed shard files when the job reads them (``finalize_reads_shards``, True when absent),
    then the files it returns uploaded."""
    local = Path(tempfile.mkdtemp(prefix="finalize-", dir=spool_root))
    try:
        if getattr(job, "finalize_reads_shards", True):
            for name in _listed(shards):
                folder.download(name, local / name)
        extra = job.finalize(local, list(shards))
        for record in extra:
            folder.upload(local / record.name, record.name)
        return extra
    finally:
        shutil.rmtree(local, ignore_errors=True)


def _listed(shards: Sequence[ShardResult]) -> Iterator[str]:
    for shard in shards:
        for record in shard.files:
            yield record.name
