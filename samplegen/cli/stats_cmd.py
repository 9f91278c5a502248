"""``samplegen stats OUT_DIR``: numbers of what a run wrote; ``--plot`` draws them."""
from __future__ import annotations

from pathlib import Path

import click

from samplegen.cli import cli
from samplegen.cli.output import print_json
from samplegen.pipelines.inspect import output_stats


@cli.command("stats")
@click.argument("out_dir", type=click.Path(file_okay=False))   # a str: a URL is refused by name, not mangled
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="Also draw the figures as a PNG.")
def stats_command(out_dir: str, plot: Path | None) -> None:
    """Samples per class / per level, IoU histograms, GTs without a positive prior (anchors)."""
    stats = output_stats(out_dir)
    if plot is not None:
        from samplegen.pipelines.show import write_png
        from samplegen.render.stats_plot import draw_stats

        write_png(plot, draw_stats(stats))
        stats["plot"] = str(plot)
    print_json(stats)
