"""``samplegen detect --pnet PNET.onnx [--rnet RNET.onnx]``: MTCNN detections of every image."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from samplegen.cli import cli
from samplegen.cli.options import LOCATION, engine_options, format_option
from samplegen.cli.output import print_json
from samplegen.detect.config import PRESETS
from samplegen.pipelines.detect import run_detect


@cli.command("detect")
@click.option("--pnet", type=click.Path(dir_okay=False, path_type=Path), help="P-Net ONNX model [embedded].")
@click.option("--rnet", type=click.Path(dir_okay=False, path_type=Path), help="R-Net ONNX model (second stage).")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="ipazc", show_default=True,
              help="Inference settings: ipazc/mtcnn's, or AITTSMD's hard-example mining.")
@click.option("--annotations", type=LOCATION, help="Annotations listing the images [embedded sample].")
@format_option(default="auto", show_default=True, help="Format of --annotations (auto: read off the file).")
@click.option("--images", type=LOCATION, help="Image root.")
@click.option("--allow-drops", is_flag=True,
              help="Read annotations even when their reader drops more than 20 % of the boxes.")
@engine_options
def detect_command(format_name: str, **options: Any) -> None:
    """Run the MTCNN cascade over every image: JSON lines {"image", "boxes": [[x1, y1, x2, y2, score]]}
    per image, which `samplegen mtcnn --detections OUT_DIR` reads.

    With no --annotations, the embedded sample (and, without --pnet, the embedded P-Net and R-Net).
    """
    print_json(run_detect(format=format_name, **options).as_json())
