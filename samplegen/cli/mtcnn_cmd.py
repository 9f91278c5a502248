"""``samplegen mtcnn --size 12|24|48``: balanced pos / part / neg / landmark crops."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from samplegen.cli import cli
from samplegen.cli.options import LOCATION, engine_options, format_option
from samplegen.cli.output import print_json
from samplegen.datasets import READERS
from samplegen.detect.config import PRESETS as DETECT_PRESETS
from samplegen.mtcnn.balance import MODES as BALANCE_MODES
from samplegen.mtcnn.config import COMPAT
from samplegen.pipelines.mtcnn import run_mtcnn
from samplegen.pipelines.mtcnn_lists import LIST_STYLES
from samplegen.pipelines.mtcnn_shards import IMAGE_FORMATS, LAYOUTS
from samplegen.pipelines.mtcnn_tfrecord import SPLITS


@cli.command("mtcnn")
@click.option("--size", default="12", show_default=True, metavar="12|24|48[,...]",
              help="Crop size: 12 PNet, 24 RNet, 48 ONet; several (12,24,48): one plan cut at each size into OUT/pnet, OUT/rnet, OUT/onet.")
@click.option("--annotations", type=LOCATION, help="Face annotations [embedded sample].")
@format_option(default="auto", show_default=True, help="Format of --annotations (auto: read off the file).")
@click.option("--images", type=LOCATION, help="Root of the face images.")
@click.option("--landmarks", type=LOCATION, help="Facial-point annotations.")
@click.option("--landmark-format", type=click.Choice(sorted(READERS)), default="facepoints", show_default=True)
@click.option("--landmark-images", type=LOCATION,
              help="Root of the landmark images.")
@click.option("--detections", type=LOCATION,
              help="Previous-stage detections (24/48 hard examples): JSON lines, or a samplegen detect folder.")
@click.option("--pnet", type=click.Path(dir_okay=False, path_type=Path),
              help="Mine the 24/48 hard examples here with this P-Net (ONNX) instead of --detections.")
@click.option("--rnet", type=click.Path(dir_okay=False, path_type=Path), help="With --pnet, for --size 48: the R-Net.")
@click.option("--detect-preset", type=click.Choice(sorted(DETECT_PRESETS)), default="ipazc", show_default=True,
              help="Inference settings of the mining (--set detect.KEY=VALUE overrides them).")
@click.option("--classes", metavar="NAME[,NAME]",
              help="Face classes of a multi-class --annotations (names or ids, e.g. person or 1); required there.")
@click.option("--layout", type=click.Choice(LAYOUTS), default="packed", show_default=True)
@click.option("--image-format", type=click.Choice(sorted(IMAGE_FORMATS)),
              help="Image encoding of the wds and list layouts [png; jpg for --list-style dface].")
@click.option("--list-style", type=click.Choice(sorted(LIST_STYLES)),
              help="list layout: files and lines a trainer loads as they are [classic: samplegen's own].")
@click.option("--relative-paths", is_flag=True,
              help="list layout, aittsmd/dface styles: lists name images relative to --out, not absolutely.")
@click.option("--tfrecord-split", type=click.Choice(SPLITS),
              help="tfrecord layout: one mixed file (PNet) or one file per class (RNet/ONet) [mixed].")
@click.option("--ratio", help="pos:neg:part:landmark [1:3:1:2].")
@click.option("--allow-duplicates", is_flag=True, default=None,
              help="Fill short classes with replacement (= --balance oversample without --base).")
@click.option("--balance", type=click.Choice(BALANCE_MODES),
              help="exact: the ratio, scarcest class sets the total; oversample: --base per ratio unit, "
                   "copies marked; keep: every planned sample, batch weights in the manifest; aittsmd: "
                   "gen_imglist_pnet.py's rule [exact].")
@click.option("--base", type=click.IntRange(min=1), help="oversample / aittsmd: samples per ratio unit (AITTSMD base_num).")
@click.option("--compat", type=click.Choice(sorted(COMPAT)),
              help="Reproduce that pipeline's sampling (configs/mtcnn/<name>.yaml over the size preset).")
@click.option("--pad", is_flag=True, default=None, help="Zero-pad crops leaving the image instead of dropping them.")
@click.option("--allow-drops", is_flag=True,
              help="Read annotations even when their reader drops more than 20 % of the boxes.")
@click.option("--dry-run", is_flag=True, help="Plan and balance only; print the counts.")
@engine_options
def mtcnn_command(size: str, format_name: str, detections: Path | None, **options: Any) -> None:
    """Generate MTCNN training crops (pos / part / neg / landmark), balanced to a ratio.

    With no --annotations/--landmarks, runs on the embedded sample.
    """
    print_json(run_mtcnn(size, format=format_name, detections=detections, **options).as_json())
