"""``samplegen show mtcnn|anchors``: PNG pictures of what a run wrote or would write."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from samplegen.anchors.methods import METHODS
from samplegen.cli import cli
from samplegen.cli.options import LOCATION, config_options, format_option
from samplegen.cli.output import print_json
from samplegen.pipelines.show import show_anchors, show_mtcnn


@cli.group("show")
def show_group() -> None:
    """Draw PNG pictures of samples: MTCNN contact sheets, anchor / point assignments."""


@show_group.command("mtcnn")
@click.argument("out_dir", type=click.Path(file_okay=False))   # a str: a URL is refused by name, not mangled
@click.option("--out", "picture", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write.")
@click.option("--per-class", type=click.IntRange(min=0), default=32, show_default=True,
              help="Tiles per class: the first N samples of each class in output order.")
@click.option("--scale", type=click.IntRange(min=1), help="Enlarge factor of the crops [closest to 96 px tiles].")
@click.option("--columns", type=click.IntRange(min=1), default=16, show_default=True, help="Tiles per row.")
@click.option("--linear", is_flag=True, help="Bilinear enlarging instead of nearest neighbour.")
def show_mtcnn_command(out_dir: str, picture: Path, **options: Any) -> None:
    """Contact sheet of a `samplegen mtcnn` output: pos, part, neg, landmark sections.

    Each tile is the crop enlarged, its regression box (green), landmarks (red) and IoU.
    """
    print_json(show_mtcnn(out_dir, picture, **options))


@show_group.command("anchors")
@click.option("--method", type=click.Choice(sorted(METHODS)), help="Anchor method (not with --from).")
@click.option("--annotations", type=LOCATION, help="Annotations [embedded sample].")
@format_option(default="auto", show_default=True,
               help="Format of --annotations; auto reads it with the reader its first lines point to.")
@click.option("--images", type=LOCATION, help="Image root.")
@click.option("--from", "from_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Draw a sample of this `samplegen anchors` output instead.")
@click.option("--image", "key", help="Image key or path as written (with --from: sample key or source) [first].")
@click.option("--out", "picture", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write.")
@click.option("--seed", type=click.IntRange(min=0), help="Base random seed of the samplers [0].")
@click.option("--compat", type=click.Choice(["mmdet", "torchvision"]), help="Reference semantics [mmdet].")
@click.option("--neg-sampling", type=click.Choice(["none", "random"]), help="SSD negative sampling.")
@config_options
@click.option("--no-image", is_flag=True, help="Draw on a grey canvas instead of the network input.")
@click.option("--panel-size", type=click.IntRange(min=32), default=512, show_default=True,
              help="Longer side of each level panel, in pixels.")
@click.option("--columns", type=click.IntRange(min=1), default=3, show_default=True, help="Panels per row.")
@click.option("--dim", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Fade the image towards dark grey so the drawings stand out.")
@click.option("--zoom", type=click.FloatRange(min=0), metavar="MARGIN",
              help="Show only the GT boxes' surroundings: their union grown by MARGIN x its size per side.")
@click.option("--follow-symlinks", is_flag=True,
              help="Read an image through a symlink leading outside --images (refused otherwise).")
@click.option("--allow-drops", is_flag=True,
              help="Read annotations even when their reader drops more than 20 % of the boxes.")
def show_anchors_command(picture: Path, format_name: str, from_dir: Path | None, no_image: bool,
                         **options: Any) -> None:
    """One image's priors as the method labels them, one panel per pyramid level.

    GT boxes thick, positive priors in their GT's colour, ignored priors grey, sampled negatives
    as faint cyan dots; FCOS: positive points per level and a centerness heat map. With no
    --annotations, the embedded sample.
    """
    if from_dir is not None:
        given = [f"--{name.replace('_', '-')}" for name in ("method", "annotations", "images", "seed", "compat",
                                                            "neg_sampling", "config")
                 if options.get(name) is not None] + (["--set"] if options["overrides"] else [])
        if given:
            raise click.UsageError(f"--from reads the method and seed from the output; drop {', '.join(given)}")
    elif options.get("method") is None:
        raise click.UsageError("give --method (or --from OUT_DIR)")
    print_json(show_anchors(picture, format=format_name, from_dir=from_dir, with_image=not no_image, **options))
