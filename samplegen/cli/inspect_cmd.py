"""``samplegen inspect``: what an annotation file holds, as one JSON object."""
from __future__ import annotations

from pathlib import Path

import click

from samplegen.cli import cli
from samplegen.cli.options import format_option
from samplegen.cli.output import print_json
from samplegen.pipelines.inspect import inspect_annotations


@cli.command("inspect")
@click.argument("annotations", required=False, type=click.Path(path_type=Path))
@format_option(help="Annotation format (required with ANNOTATIONS).")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path),
              help="Image root; sizes missing from the annotation are read from image headers.")
def inspect_command(annotations: Path | None, format_name: str | None, images: Path | None) -> None:
    """Count images, boxes, ignored and dropped boxes, classes and box sizes.

    With no ANNOTATIONS, describes the embedded sample.
    """
    if annotations is not None and format_name is None:
        raise click.UsageError("--format is required with ANNOTATIONS")
    print_json(inspect_annotations(annotations, format_name, images))
