"""How a library run proceeds (`RunOptions`), and what it needs from the resolved configuration.

The same fields are the engine options of the CLI (``--out``, ``--workers``, ``--seed``,
``--shard-size``, ``--max-errors``, ``--resume``, ``--overwrite``, ``--no-progress``, ``--config``,
``--set``); `samplegen.run_mtcnn` and `samplegen.run_anchors` take them as keyword arguments.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from samplegen.config.resolve import EngineValues, Resolved, resolve
from samplegen.engine.manifest import describe_input
from samplegen.engine.run import EngineSettings
from samplegen.errors import ConfigError


@dataclass(frozen=True)
class RunOptions:
    """Engine options of a run. None means "from the configuration" (preset < file < environment).

    Attributes:
        out: output folder (default ``samplegen-out/<command>``).
        workers, seed, shard_size, max_errors: override the engine keys of the configuration.
        resume: continue a run in `out`; overwrite: replace it (exclusive).
        progress: a tqdm bar on stderr when it is a terminal.
        config: a YAML file with the preset's (nested) keys.
        overrides: ``--set`` values, nested or dotted (``{"assigner.pos_iou_thr": 0.6}``).
        environ: where ``SAMPLEGEN_*`` variables are read (None: the process environment).
    """

    out: Path | None = None
    workers: int | None = None
    seed: int | None = None
    shard_size: int | None = None
    max_errors: int | None = None
    resume: bool = False
    overwrite: bool = False
    progress: bool = False
    config: Path | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    environ: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.resume and self.overwrite:
            raise ConfigError("resume and overwrite exclude each other")

    def engine_explicit(self) -> dict[str, Any]:
        return {"seed": self.seed, "shard_size": self.shard_size, "workers": self.workers,
                "max_errors": self.max_errors}

    def resolve(self, preset: str, explicit: Mapping[str, Any] | None = None) -> Resolved:
        """The configuration of `preset` under these options and a command's own `explicit` values."""
        return resolve(preset, config_file=self.config, overrides=self.overrides,
                       explicit={**self.engine_explicit(), **(explicit or {})}, environ=self.environ)

    def settings(self, engine: EngineValues, default_out: Path) -> EngineSettings:
        return EngineSettings(out_dir=Path(self.out) if self.out is not None else default_out,
                              workers=engine.worker_count, resume=self.resume, overwrite=self.overwrite,
                              max_errors=engine.max_errors, progress=self.progress)


def describe_inputs(**paths: Path | None) -> tuple[dict[str, str], ...]:
    """The manifest's ``inputs``: role, path and SHA-256 of each given annotation input."""
    return tuple(describe_input(role, Path(path)) for role, path in paths.items() if path is not None)


def run_options(**kwargs: Any) -> RunOptions:
    """`RunOptions` from the keyword arguments of a library call (paths made `Path`)."""
    for key in ("out", "config"):
        if kwargs.get(key) is not None:
            kwargs[key] = Path(kwargs[key])
    return RunOptions(**kwargs)
