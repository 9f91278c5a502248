"""``samplegen config show``: the configuration a command would run with, and where each value comes from."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from samplegen.anchors.methods import METHODS
from samplegen.cli import cli
from samplegen.cli.options import config_options
from samplegen.cli.output import print_json
from samplegen.config.describe import annotated_yaml
from samplegen.detect.config import PRESETS as DETECT_PRESETS
from samplegen.pipelines.inspect import show_config


@cli.group("config")
def config_group() -> None:
    """Look at the resolved configuration of a command."""


@config_group.command("show")
@click.option("--method", type=click.Choice(sorted(METHODS)), help="The anchors method.")
@click.option("--size", type=click.Choice(["12", "24", "48"]), help="The mtcnn crop size.")
@click.option("--preset", type=click.Choice(sorted(DETECT_PRESETS)), help="The detect preset.")
@config_options
@click.option("--yaml", "as_yaml", is_flag=True,
              help="Print YAML with '# source' after each value (a --config file) instead of JSON.")
def config_show_command(method: str | None, size: str | None, preset: str | None, config: Path | None,
                        overrides: dict[str, Any], as_yaml: bool) -> None:
    """The resolved preset of `anchors --method M`, `mtcnn --size S` or `detect --preset P` under
    --config, --set and SAMPLEGEN_* variables (as the command would layer them), with the source
    of every value. JSON on stdout: values, sources, fingerprint."""
    given = [name for name, value in (("--method", method), ("--size", size), ("--preset", preset)) if value]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --method, --size or --preset")
    shown = show_config(method, int(size) if size else None, preset, config=config, overrides=overrides)
    if as_yaml:
        click.echo(f"# samplegen {shown['for']}: resolved configuration", nl=True)
        click.echo(annotated_yaml(shown["values"], shown["sources"]), nl=False)
        return
    print_json(shown)
