"""Option bundles shared by the commands, and the resolution of presets + overrides.

Precedence, lowest to highest: engine preset and method preset < ``--config FILE`` <
``SAMPLEGEN_<KEY>`` environment variables < command-line options. The source of every value is
kept and written to the manifest.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import click

from samplegen.config import Layered, environment_overrides, load_preset, load_yaml
from samplegen.datasets import READERS
from samplegen.engine.run import EngineSettings
from samplegen.errors import ConfigError

ENGINE_KEYS = ("seed", "shard_size", "workers", "max_errors")
# Keys that change how a run proceeds but not the bytes it writes: kept out of the fingerprint.
NON_DECISIVE_KEYS = ("workers", "max_errors")


@dataclass(frozen=True)
class EngineOptions:
    out: Path | None
    workers: int | None
    seed: int | None
    shard_size: int | None
    max_errors: int | None
    resume: bool
    overwrite: bool
    progress: bool
    config: Path | None


def format_option(**kwargs: Any) -> Callable:
    """``--format NAME``, one of the readers (passed to the command as ``format_name``)."""
    return click.option("--format", "format_name", type=click.Choice(sorted(READERS)), **kwargs)


def resolve_anchor_config(method: str, engine: EngineOptions, cli_values: Mapping[str, Any]
                          ) -> tuple[Any, Layered, dict[str, Any], dict[str, Any]]:
    """(method config, layered values, engine values, method values) of an anchors method, with
    the same layering for every command that labels anchors (so `show` draws what `anchors` writes)."""
    from samplegen.anchors.config import METHODS, load_method_config

    layered = resolve_config(METHODS[method].preset, engine, cli_values)
    engine_values, method_values = split_engine(layered)
    cfg, _ = load_method_config(method, method_values, "command line", layered.sources)
    return cfg, layered, engine_values, method_values


def engine_options(command: Callable) -> Callable:
    """Adds the engine options and passes them to the command as ``engine=EngineOptions``."""
    options = [
        click.option("--out", type=click.Path(file_okay=False, path_type=Path),
                     help="Output folder (created if needed)."),
        click.option("--workers", type=click.IntRange(min=1), help="Worker processes [CPU count]."),
        click.option("--seed", type=int, help="Base random seed [0]."),
        click.option("--shard-size", type=click.IntRange(min=1), help="Images per shard [100]."),
        click.option("--max-errors", type=click.IntRange(min=0),
                     help="Missing/undecodable images tolerated before failing [0]."),
        click.option("--resume", is_flag=True, help="Continue a run in --out, skipping complete shards."),
        click.option("--overwrite", is_flag=True, help="Replace a previous run in --out."),
        click.option("--no-progress", is_flag=True, help="No progress bar on stderr."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="YAML file overriding the preset."),
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, out, workers, seed, shard_size, max_errors, resume, overwrite,
                no_progress, config_file, **kwargs: Any) -> Any:
        if resume and overwrite:
            raise click.UsageError("--resume and --overwrite exclude each other")
        engine = EngineOptions(out, workers, seed, shard_size, max_errors, resume, overwrite,
                               not no_progress, config_file)
        return command(*args, engine=engine, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def resolve_config(preset: str, engine: EngineOptions, cli_values: Mapping[str, Any]) -> Layered:
    """Engine preset + method preset, then --config, environment and CLI values (None = unset)."""
    layered = load_preset("engine.yaml").merge(load_preset(preset).values, f"preset:{preset}")
    if engine.config is not None:
        if not engine.config.is_file():
            raise ConfigError(f"{engine.config}: no such config file")
        layered = layered.merge(load_yaml(engine.config), f"file:{engine.config}")
    env = environment_overrides(layered.values.keys(), os.environ)
    if env:
        layered = layered.merge(env, "environment")
    cli = {"seed": engine.seed, "shard_size": engine.shard_size, "workers": engine.workers,
           "max_errors": engine.max_errors, **cli_values}
    cli = {k: v for k, v in cli.items() if v is not None}
    return layered.merge(cli, "command line") if cli else layered


def split_engine(layered: Layered) -> tuple[dict[str, Any], dict[str, Any]]:
    """(engine values, method values) of a resolved configuration."""
    engine = {k: layered.values.get(k) for k in ENGINE_KEYS}
    method = {k: v for k, v in layered.values.items() if k not in ENGINE_KEYS}
    return engine, method


def engine_settings(engine: EngineOptions, values: Mapping[str, Any], default_out: Path) -> EngineSettings:
    for key in ("seed", "shard_size", "max_errors"):
        if not isinstance(values.get(key), int) or isinstance(values.get(key), bool):
            raise ConfigError(f"config: '{key}' must be an integer, got {values.get(key)!r}")
    workers = values.get("workers") or os.cpu_count() or 1
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"config: 'workers' must be a positive integer, got {workers!r}")
    if values["shard_size"] < 1 or values["max_errors"] < 0:
        raise ConfigError("config: shard_size must be >= 1 and max_errors >= 0")
    return EngineSettings(out_dir=engine.out or default_out, workers=workers, resume=engine.resume,
                          overwrite=engine.overwrite, max_errors=values["max_errors"],
                          progress=engine.progress)


def decisive_config(layered: Layered) -> dict[str, Any]:
    """The resolved values that decide the output bytes (fingerprinted)."""
    return {k: v for k, v in layered.values.items() if k not in NON_DECISIVE_KEYS}
