"""``samplegen fit-anchors --method M``: do the method's anchors fit the data, and what would."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import yaml

from samplegen import embedded
from samplegen.anchors.config import METHODS, FcosConfig, load_method_config
from samplegen.anchors.fit import best_prior_iou, network_boxes, recall_table, suggest_overrides
from samplegen.cli import cli
from samplegen.cli.options import EngineOptions, engine_options, format_option, resolve_anchor_config
from samplegen.cli.output import print_json
from samplegen.datasets import read_dataset
from samplegen.errors import ConfigError
from samplegen.rng import rng_for
from samplegen.writers.base import write_bytes_atomic

FIT_KEY = "samplegen.anchors.fit"  # rng stream of the k-means initialisation


@cli.command("fit-anchors")
@click.option("--method", type=click.Choice(sorted(METHODS)), default="fpn", show_default=True)
@click.option("--annotations", type=click.Path(path_type=Path), help="Annotations [embedded sample].")
@format_option(default="coco", show_default=True, help="Format of --annotations.")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path),
              help="Image root (sizes for formats that do not store them).")
@click.option("--write-config", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the suggested anchors as a YAML file for --config.")
@engine_options
def fit_anchors_command(method: str, annotations: Path | None, format_name: str, images: Path | None,
                        write_config: Path | None, engine: EngineOptions) -> None:
    """Recall of the method's priors per box size (best prior IoU >= 0.3 / 0.5 / 0.7), and a
    k-means (1 - IoU) anchor set fitted to the data, with the same figures.
    """
    cfg, _, engine_values, method_values = resolve_anchor_config(method, engine, {})
    if isinstance(cfg, FcosConfig):
        raise ConfigError("fcos is anchor-free: there are no anchor shapes to fit")
    if annotations is None:
        annotations, format_name, images = embedded.COCO, "coco", embedded.ROOT
    records = [r for r in read_dataset(format_name, annotations, images).records]
    sized = [r for r in records if r.width is not None and r.height is not None]
    if not any(r.num_boxes for r in sized):
        raise ConfigError(f"{annotations}: no box with a known image size (give --images for this format)")
    sizes, best = best_prior_iou(sized, cfg)
    wh = np.concatenate([np.diff(b.reshape(-1, 2, 2), axis=1)[:, 0] for b in
                         (network_boxes(r, cfg) for r in sized if r.num_boxes)])
    overrides = suggest_overrides(wh, cfg, rng_for(engine_values["seed"], FIT_KEY))
    fitted, _ = load_method_config(method, {**method_values, **overrides}, "fit-anchors")
    fitted_sizes, fitted_best = best_prior_iou(sized, fitted)
    snippet = f"# samplegen fit-anchors --method {method} on {annotations.name}\n" + yaml.safe_dump(
        overrides, sort_keys=False, default_flow_style=None)
    if write_config is not None:
        write_bytes_atomic(write_config, snippet.encode("utf-8"))
    print_json({
        "method": method, "images": len(sized), "images_without_size": len(records) - len(sized),
        "boxes": int(sizes.shape[0]), "recall": recall_table(sizes, best),
        "suggested": overrides, "suggested_recall": recall_table(fitted_sizes, fitted_best),
        "config_snippet": snippet, "written": str(write_config) if write_config else None,
    })
