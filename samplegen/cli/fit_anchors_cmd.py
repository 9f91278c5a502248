"""``samplegen fit-anchors --method M``: do the method's anchors fit the data, and what would."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from samplegen.anchors.methods import METHODS
from samplegen.cli import cli
from samplegen.cli.options import LOCATION, config_options, format_option
from samplegen.cli.output import print_json
from samplegen.pipelines.fit import fit_anchors


@cli.command("fit-anchors")
@click.option("--method", type=click.Choice(sorted(METHODS)), default="fpn", show_default=True)
@click.option("--annotations", type=LOCATION, help="Annotations [embedded sample].")
@format_option(default="auto", show_default=True, help="Format of --annotations (auto: read off the file).")
@click.option("--images", type=LOCATION,
              help="Image root (sizes for formats that do not store them).")
@click.option("--write-config", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the suggested anchors as a YAML file for --config.")
@click.option("--seed", type=click.IntRange(min=0), help="Seed of the k-means starts and the labelling pass [0].")
@click.option("--labelled-images", type=click.IntRange(min=1), default=200, show_default=True,
              help="Images of the real labelling pass (positives per GT, before and after).")
@click.option("--allow-drops", is_flag=True,
              help="Read annotations even when their reader drops more than 20 % of the boxes.")
@config_options
def fit_anchors_command(method: str, format_name: str, **options: Any) -> None:
    """Recall of the method's priors per box size (best prior IoU >= 0.3 / 0.5 / 0.7 and the
    method's own thresholds), and an anchor set searched for what the method's assigner rewards
    (recall at its positive threshold, then its low-quality threshold, then mean best IoU; YOLOv5:
    shapes within anchor_t). Never worse than the preset at its positive threshold: when nothing
    better is found, it says so and suggests nothing.
    """
    print_json(fit_anchors(method, format=format_name, **options).as_json())
