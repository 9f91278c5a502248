"""``samplegen stats OUT_DIR``: numbers of what a run wrote; ``--plot`` draws them."""
from __future__ import annotations

from pathlib import Path

import click
import cv2

from samplegen.cli import cli
from samplegen.cli.output import print_json
from samplegen.engine.manifest import read_manifest
from samplegen.errors import ConfigError
from samplegen.output_stats import anchors_output_stats, mtcnn_output_stats
from samplegen.outputs import read_anchors, read_mtcnn
from samplegen.stats_plot import draw_stats


@cli.command("stats")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw the figures as a PNG.")
def stats_command(out_dir: Path, plot: Path | None) -> None:
    """Samples per class / per level, IoU histograms, GTs without a positive prior (anchors)."""
    manifest = read_manifest(out_dir)
    if manifest is None:
        raise ConfigError(f"{out_dir}: no manifest.json (not a samplegen output folder)")
    command = manifest["command"]
    if command == "mtcnn":
        stats = mtcnn_output_stats(read_mtcnn(out_dir, images=False))
    elif command == "anchors":
        stats = anchors_output_stats(read_anchors(out_dir), manifest["config"].get("strides"))
    else:
        raise ConfigError(f"{out_dir}: stats of '{command}' outputs are not supported")
    stats = {"command": command, "out": str(out_dir), "complete": manifest["complete"], **stats}
    if plot is not None:
        if not cv2.imwrite(str(plot), draw_stats(stats)):
            raise ConfigError(f"{plot}: cannot write the plot (unknown extension or unwritable folder)")
        stats["plot"] = str(plot)
    print_json(stats)
