"""How a library run proceeds (`RunOptions`), and what it needs from the resolved configuration.

The same fields are the engine options of the CLI (``--out``, ``--workers``, ``--seed``,
``--shard-size``, ``--shards``, ``--max-errors``, ``--resume``, ``--overwrite``, ``--no-progress``,
``--config``, ``--set``); `samplegen.run_mtcnn` and `samplegen.run_anchors` take them as keyword
arguments.

How images are cut into shards (`RunOptions.shard`), a pure function of the image count and
fingerprinted values, never of ``--workers`` (the bytes must not depend on it):

1. ``shards=N`` (``--shards N``): exactly ``min(N, n)`` shards of balanced size.
2. ``shard_size`` given anywhere (``--shard-size``, ``--config``, ``SAMPLEGEN_SHARD_SIZE``):
   groups of exactly that many images, the last shorter (the historical rule).
3. Neither: the preset's ``shard_size`` (100) when that makes at least `MIN_SHARDS` shards
   (``n >= MIN_SHARDS * 100``: today's bytes); below that, ``min(MIN_SHARDS, n)`` balanced
   shards, so small inputs still feed up to `MIN_SHARDS` workers, DataLoader workers or nodes.
Balanced plans record ``shards: K`` in the fingerprinted configuration and every plan records its
largest shard as ``shard_size`` in the manifest.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from samplegen.config.resolve import COMMAND_LINE, EngineValues, Resolved, resolve
from samplegen.engine.distribute import WorkerPool
from samplegen.engine.run import EngineSettings
from samplegen.engine.storage import file_url_path, is_remote, is_url, output_location
from samplegen.engine.task import ShardTask, plan_shards
from samplegen.errors import ConfigError

ENGINES = ("local", "ray")
MIN_SHARDS = 16
"""Fewest shards the default shard size yields when there are that many images (rule 3 above):
enough for the worker processes, DataLoader workers x nodes of a typical machine."""
PRESET_SOURCE = "preset:"


@dataclass(frozen=True)
class RunOptions:
    """Engine options of a run. None means "from the configuration" (preset < file < environment).

    Attributes:
        out: output folder (default ``samplegen-out/<command>``), or a URL: ``file:///abs/path``
            (the same as the path) or object storage (``s3://bucket/prefix``, any fsspec URL;
            `samplegen.engine.object_store`), kept as a string.
        workers, seed, shard_size, max_errors: override the engine keys of the configuration.
        shards: cut the images into this many balanced shards instead (excludes `shard_size`).
        resume: continue a run in `out`; overwrite: replace it (exclusive).
        progress: a tqdm bar on stderr when it is a terminal.
        config: a YAML file with the preset's (nested) keys.
        overrides: ``--set`` values, nested or dotted (``{"assigner.pos_iou_thr": 0.6}``).
        environ: where ``SAMPLEGEN_*`` variables are read (None: the process environment).
        engine: ``local`` (worker processes on this machine) or ``ray`` (tasks on a Ray cluster,
            `ray_address`, or a local Ray instance); like `workers`, it never changes the bytes.
        ray_env: names of variables of this process's environment the Ray tasks get (credentials,
            an S3 endpoint: Ray does not forward the driver's environment).
        verify: with `resume`, hash every kept shard (otherwise size + mtime, and a hash of the
            shards written last).
        follow_symlinks: read images through symlinks that lead outside the images root
            (otherwise such an image is skipped, ``outside_root``).
    """

    out: Path | str | None = None
    workers: int | None = None
    seed: int | None = None
    shard_size: int | None = None
    shards: int | None = None
    max_errors: int | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = False
    config: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None
    engine: str = "local"
    ray_address: str | None = None
    ray_env: Sequence[str] = ()
    verify: bool = False
    follow_symlinks: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine: expected one of {list(ENGINES)}, got {self.engine!r}")
        if self.ray_address is not None and self.engine != "ray":
            raise ConfigError("a Ray address goes with the ray engine (--engine ray)")
        if self.ray_env and self.engine != "ray":
            raise ConfigError("ray_env (--ray-env) goes with the ray engine (--engine ray)")
        object.__setattr__(self, "ray_env", tuple(self.ray_env))
        if self.resume and self.overwrite:
            raise ConfigError("resume and overwrite exclude each other")
        if self.shards is not None and self.shard_size is not None:
            raise ConfigError("give shards (--shards) or shard_size (--shard-size), not both")
        if self.shards is not None and self.shards < 1:
            raise ConfigError(f"shards: must be >= 1, got {self.shards}")

    def engine_explicit(self) -> dict[str, Any]:
        return {"seed": self.seed, "shard_size": self.shard_size, "workers": self.workers,
                "max_errors": self.max_errors}

    def resolve(self, preset: str, explicit: Mapping[str, Any] | None = None,
                renamed: Mapping[str, str] | None = None) -> Resolved:
        """The configuration of `preset` under these options and a command's own `explicit` values
        (`renamed`: the config class's old keys, refused in the environment)."""
        return resolve(preset, config_file=self.config, overrides=self.overrides,
                       explicit={**self.engine_explicit(), **(explicit or {})}, environ=self.environ,
                       renamed=renamed)

    def shard(self, items: Sequence[Any], engine: EngineValues, resolved: Resolved,
              key: Callable[[Any], str]) -> tuple[list[ShardTask], EngineValues, Resolved]:
        """Cut `items` into shard tasks by the module's rules.

        Returns:
            the tasks; `engine` with ``shard_size`` the largest shard's size (recorded in the
            manifest); `resolved` with ``shards: K`` added for balanced plans (fingerprinted,
            its source saying which rule chose it).
        """
        count, source = self._shard_count(len(items), engine.shard_size, resolved.sources.get("shard_size", ""))
        tasks = plan_shards(items, engine.shard_size, key, count)
        if count is None or not tasks:
            return tasks, engine, resolved
        largest = max(len(task.items) for task in tasks)
        return (tasks, replace(engine, shard_size=largest),
                Resolved(resolved.layered.merge({"shards": len(tasks)}, source)))

    def _shard_count(self, n: int, shard_size: int, size_source: str) -> tuple[int | None, str]:
        """(balanced shard count or None for fixed groups of `shard_size`, the rule's source)."""
        if self.shards is not None:
            return self.shards, COMMAND_LINE
        if not size_source.startswith(PRESET_SOURCE) or n >= MIN_SHARDS * shard_size:
            return None, ""
        return MIN_SHARDS, f"default: at least {MIN_SHARDS} shards"

    def pool(self, workers: int, modules: Sequence[str] = ()) -> Any:
        """The distributor of this run's tasks: a `WorkerPool` (``local``; `modules` preloaded in
        its fork server) or a `RayPool` (``ray``); both are context managers with ``map``."""
        if self.engine == "ray":
            from samplegen.engine.ray_pool import RayPool

            return RayPool(self.ray_address, workers, env=forwarded_env(self.ray_env))
        return WorkerPool(workers, modules)

    def settings(self, engine: EngineValues, default_out: Path) -> EngineSettings:
        return EngineSettings(out_dir=output_location(self.out) if self.out is not None else default_out,
                              workers=engine.worker_count, resume=self.resume, overwrite=self.overwrite,
                              max_errors=engine.max_errors, progress=self.progress, verify=self.verify)


def forwarded_env(names: Sequence[str]) -> dict[str, str]:
    """The variables `names` of this process's environment, for the Ray tasks (``--ray-env``).

    Raises:
        ConfigError: a name that is not set: the tasks would silently run without it.
    """
    missing = [name for name in names if name not in os.environ]
    if missing:
        raise ConfigError(f"--ray-env {missing[0]}: not set in this environment")
    return {name: os.environ[name] for name in names}


def job_path(path: str | Path | None) -> str | None:
    """A path as a job carries it: absolute, so it means the same in every worker and on every
    node of a cluster; a ``file://`` URL becomes its path, another URL is kept as it is (the
    engine spools a job writing there, `samplegen.engine.spool`)."""
    if path is None:
        return None
    if is_remote(path):
        return str(path)
    if is_url(path):
        return str(file_url_path(str(path)))
    return str(Path(path).resolve())


def run_options(**kwargs: Any) -> RunOptions:
    """`RunOptions` from the keyword arguments of a library call (paths made `Path`, an output
    URL kept as a string: `Path` would collapse ``s3://`` to ``s3:/``)."""
    if kwargs.get("out") is not None:
        kwargs["out"] = output_location(kwargs["out"])
    if kwargs.get("config") is not None:
        kwargs["config"] = Path(kwargs["config"])
    return RunOptions(**kwargs)
