"""``samplegen inspect``: what an annotation file holds, as one JSON object."""
from __future__ import annotations

from pathlib import Path

import click

from samplegen.cli import cli
from samplegen.cli.options import LOCATION, format_option
from samplegen.cli.output import print_json
from samplegen.pipelines.inspect import inspect_annotations


@cli.command("inspect")
@click.argument("annotations", required=False, type=LOCATION)
@format_option(default="auto", show_default=True,
               help="Annotation format; auto reads the file with the reader its first lines point to.")
@click.option("--images", type=LOCATION,
              help="Image root; sizes missing from the annotation are read from image headers.")
@click.option("--allow-drops", is_flag=True,
              help="Read a file even when its reader drops more than 20 % of the boxes (a warning still says so).")
def inspect_command(annotations: Path | None, format_name: str, images: Path | None, allow_drops: bool) -> None:
    """Count images, boxes, ignored and dropped boxes, classes and box sizes.

    With no ANNOTATIONS, describes the embedded sample.
    """
    print_json(inspect_annotations(annotations, format_name, images, allow_drops=allow_drops))
