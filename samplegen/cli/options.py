"""Option bundles shared by the commands: each builds what the library function takes.

`engine_options` adds ``--out --workers --seed --shard-size --shards --max-errors --resume
--overwrite --no-progress`` and `config_options` adds ``--config FILE`` and ``--set KEY=VALUE``; the command
receives their values as keyword arguments of `samplegen.pipelines.options.RunOptions`.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import click

from samplegen.config.layers import parse_assignments
from samplegen.datasets import READERS
from samplegen.engine.storage import output_location
from samplegen.locations import is_url


class Location(click.ParamType):
    """An input's path, or its URL (``s3://bucket/key``, ``file:///abs/path``) kept as a string:
    `Path` would collapse ``s3://`` to ``s3:/``. The command reports a missing input itself."""

    name = "path|url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        if isinstance(value, Path) or not is_url(value):
            return Path(value)
        return str(value)


LOCATION = Location()


def format_option(**kwargs: Any) -> Callable:
    """``--format NAME``, one of the readers (passed to the command as ``format_name``)."""
    return click.option("--format", "format_name", type=click.Choice(sorted(READERS)), **kwargs)


def config_options(command: Callable) -> Callable:
    """``--config FILE`` and repeatable ``--set KEY=VALUE``, passed as ``config`` and ``overrides``."""
    options = [
        click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path),
                     help="YAML file overriding the preset (same nested keys)."),
        click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                     help="Override one key, e.g. --set assigner.pos_iou_thr=0.6 (repeatable)."),
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, assignments: tuple[str, ...], **kwargs: Any) -> Any:
        return command(*args, overrides=parse_assignments(assignments), **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def engine_options(command: Callable) -> Callable:
    """The engine options of a command that writes an output folder, plus `config_options`."""
    options = [
        click.option("--out", type=click.Path(file_okay=False),
                     help="Output folder (created if needed), or a URL: s3://BUCKET/PREFIX, file:///ABS/PATH."),
        click.option("--workers", type=click.IntRange(min=1), help="Worker processes [CPU count]."),
        click.option("--seed", type=click.IntRange(min=0), help="Base random seed [0]."),
        click.option("--shard-size", type=click.IntRange(min=1),
                     help="Images per shard [100, or fewer so that there are at least 16 shards]."),
        click.option("--shards", type=click.IntRange(min=1),
                     help="Cut the images into N shards of balanced size instead of --shard-size."),
        click.option("--max-errors", type=click.IntRange(min=0),
                     help="Unusable images (missing, undecodable, unlike their annotation's size, over the "
                          "pixel cap, linked from outside the root) tolerated before failing [0]."),
        click.option("--resume", is_flag=True, help="Continue a run in --out, skipping complete shards."),
        click.option("--overwrite", is_flag=True, help="Replace a previous run in --out."),
        click.option("--no-progress", is_flag=True, help="No progress on stderr."),
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="Run the shards in local worker processes or as Ray tasks (same bytes)."),
        click.option("--ray-address", metavar="ADDRESS",
                     help="With --engine ray: the cluster (ray://HOST:10001, auto) [a local Ray instance]."),
        click.option("--ray-env", "ray_env", multiple=True, metavar="NAME",
                     help="With --engine ray: give the Ray tasks this variable of the driver's environment, "
                          "e.g. AWS_ENDPOINT_URL_S3 (repeatable) [none: the nodes' own environment]."),
        click.option("--verify", is_flag=True,
                     help="With --resume: hash every kept shard [size + mtime, hashing the shards written last]."),
        click.option("--follow-symlinks", is_flag=True,
                     help="Read images through symlinks leading outside the images root (refused otherwise)."),
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, resume: bool, overwrite: bool, no_progress: bool, shards: int | None,
                engine: str, ray_address: str | None, ray_env: tuple[str, ...], verify: bool, follow_symlinks: bool,
                **kwargs: Any) -> Any:
        if resume and overwrite:
            raise click.UsageError("--resume and --overwrite exclude each other")
        if shards is not None and kwargs.get("shard_size") is not None:
            raise click.UsageError("--shards and --shard-size exclude each other")
        if shards is not None:  # passed only when given: a command may not take it yet
            kwargs["shards"] = shards
        if (ray_address is not None or ray_env) and engine != "ray":
            raise click.UsageError(f"{'--ray-address' if ray_address is not None else '--ray-env'} goes with --engine ray")
        if engine != "local":
            kwargs.update(engine=engine, ray_address=ray_address, **({"ray_env": ray_env} if ray_env else {}))
        if verify and not resume:
            raise click.UsageError("--verify goes with --resume")
        kwargs.update({k: True for k, on in (("verify", verify), ("follow_symlinks", follow_symlinks)) if on})
        if kwargs.get("out") is not None:
            kwargs["out"] = output_location(kwargs["out"])  # a URL stays a string, a path is a Path
        return command(*args, resume=resume, overwrite=overwrite, progress=not no_progress, **kwargs)

    wrapper = config_options(wrapper)
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
