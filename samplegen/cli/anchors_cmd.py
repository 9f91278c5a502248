"""``samplegen anchors --method M``: per-prior labels and targets as mmdetection computes them."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from samplegen.anchors.methods import METHODS
from samplegen.cli import cli
from samplegen.cli.options import LOCATION, engine_options, format_option
from samplegen.cli.output import print_json
from samplegen.pipelines.anchors import describe_priors, run_anchors


def print_priors(method: str, height: int, width: int, save: Path | None, **config: Any) -> None:
    print_json(describe_priors(method, height, width, save, **config))


@cli.command("anchors")
@click.option("--method", type=click.Choice(sorted(METHODS)), default="ssd", show_default=True)
@click.option("--annotations", type=LOCATION, help="Annotations [embedded sample].")
@format_option(default="auto", show_default=True, help="Format of --annotations (auto: read off the file).")
@click.option("--images", type=LOCATION, help="Image root.")
@click.option("--stage", type=click.Choice(["rpn", "rcnn"]), help="faster_rcnn/fpn: label anchors (rpn) or proposals (rcnn).")
@click.option("--proposals", type=LOCATION,
              help="JSON lines of proposals per image, for --stage rcnn.")
@click.option("--compat", type=click.Choice(["mmdet", "torchvision"]), help="Reference semantics [mmdet].")
@click.option("--neg-sampling", type=click.Choice(["none", "random"]),
              help="SSD: label all negatives (none) or pick the 3:1 budget at random.")
@click.option("--with-images", is_flag=True, help="Also write the resized, padded network input (KEY.jpg).")
@click.option("--with-max-iou", is_flag=True,
              help="Also store each prior's max IoU (dense; otherwise only at the positives).")
@click.option("--priors", "priors_shape", type=click.IntRange(min=1), nargs=2, metavar="H W",
              help="Print the priors of an H x W image and exit.")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="With --priors: save them as .npy.")
@click.option("--allow-drops", is_flag=True,
              help="Read annotations even when their reader drops more than 20 % of the boxes.")
@engine_options
def anchors_command(method: str, format_name: str, stage: str | None, proposals: Path | None,
                    priors_shape: tuple[int, int] | None, save: Path | None, **options: Any) -> None:
    """Label anchors (or FCOS points) of every image: assigned GT, class, IoU, sampled, targets.

    With no --annotations, runs on the embedded sample.
    """
    if priors_shape is not None:
        print_priors(method, *priors_shape, save, compat=options["compat"], config=options["config"],
                     overrides=options["overrides"])
        return
    if stage == "rcnn" and proposals is None:
        raise click.UsageError("--stage rcnn needs --proposals")
    print_json(run_anchors(method, format=format_name, stage=stage, proposals=proposals, **options).as_json())
