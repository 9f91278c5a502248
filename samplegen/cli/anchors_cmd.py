"""``samplegen anchors --method M``: per-prior labels and targets as mmdetection computes them."""
from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from samplegen import __version__, embedded
from samplegen.anchors.config import METHODS
from samplegen.anchors.methods import priors_for
from samplegen.cli import cli
from samplegen.cli.options import (
    EngineOptions, decisive_config, engine_options, engine_settings, format_option, resolve_anchor_config)
from samplegen.cli.output import print_json
from samplegen.datasets import read_dataset
from samplegen.datasets.detections import detections_for, read_detections
from samplegen.engine.manifest import RunDescription, describe_input
from samplegen.engine.plan import plan_shards
from samplegen.engine.run import execute
from samplegen.jobs.anchors_job import AnchorItem, AnchorsJob


def print_priors(cfg, method: str, height: int, width: int, save: Path | None) -> None:
    priors, per_level = priors_for(cfg, height, width)
    summary = {"method": method, "height": height, "width": width,
               "priors_per_level": per_level.tolist(), "num_priors": int(priors.shape[0])}
    if save is not None:
        np.save(save, priors)
        print_json({**summary, "saved": str(save)})
    else:
        print_json({**summary, "priors": priors.tolist()})


@cli.command("anchors")
@click.option("--method", type=click.Choice(sorted(METHODS)), default="ssd", show_default=True)
@click.option("--annotations", type=click.Path(path_type=Path), help="Annotations [embedded sample].")
@format_option(default="coco", show_default=True, help="Format of --annotations.")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path), help="Image root.")
@click.option("--stage", type=click.Choice(["rpn", "rcnn"]), help="faster_rcnn/fpn: label anchors (rpn) or proposals (rcnn).")
@click.option("--proposals", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON lines of proposals per image, for --stage rcnn.")
@click.option("--compat", type=click.Choice(["mmdet", "torchvision"]), help="Reference semantics [mmdet].")
@click.option("--neg-sampling", type=click.Choice(["none", "random"]),
              help="SSD: label all negatives (none) or pick the 3:1 budget at random.")
@click.option("--with-images", is_flag=True, help="Also write the resized, padded network input (KEY.jpg).")
@click.option("--priors", "priors_shape", type=int, nargs=2, metavar="H W",
              help="Print the priors of an H x W image and exit.")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), help="With --priors: save them as .npy.")
@engine_options
def anchors_command(method: str, annotations: Path | None, format_name: str, images: Path | None,
                    stage: str | None, proposals: Path | None, compat: str | None,
                    neg_sampling: str | None, with_images: bool, priors_shape: tuple[int, int] | None,
                    save: Path | None, engine: EngineOptions) -> None:
    """Label anchors (or FCOS points) of every image: assigned GT, class, IoU, sampled, targets.

    With no --annotations, runs on the embedded sample.
    """
    overrides = {"stage": stage, "compat": compat, "neg_sampling": neg_sampling}
    cfg, layered, engine_values, _ = resolve_anchor_config(method, engine, overrides)
    if priors_shape is not None:
        print_priors(cfg, method, priors_shape[0], priors_shape[1], save)
        return
    if getattr(cfg, "stage", None) == "rcnn" and proposals is None:
        raise click.UsageError("--stage rcnn needs --proposals")
    if annotations is None:
        annotations, format_name, images = embedded.COCO, "coco", embedded.ROOT
    settings = engine_settings(engine, engine_values, Path("samplegen-out") / f"anchors-{method}")
    dataset = read_dataset(format_name, annotations, images)
    props = read_detections(proposals) if proposals else {}
    records = sorted(dataset.records, key=lambda r: r.key)
    items = [AnchorItem(i, r, detections_for(props, r)[:, :4] if proposals else None)
             for i, r in enumerate(records)]
    tasks = plan_shards(items, engine_values["shard_size"], key=lambda item: item.record.key)
    inputs = tuple(describe_input(role, path) for role, path in
                   (("annotations", annotations), ("proposals", proposals)) if path)
    run = RunDescription(
        command="anchors", version=__version__, config=decisive_config(layered) | {"with_images": with_images},
        config_sources=layered.sources, seed=engine_values["seed"], layout="wds",
        shard_size=engine_values["shard_size"], inputs=inputs, planned_shards=len(tasks),
        plan={"class_names": list(dataset.class_names), **{k: v for k, v in dataset.meta.items()
                                                           if _jsonable(v)}})
    job = AnchorsJob(str(settings.out_dir), method, method, cfg, engine_values["seed"],
                     str(images) if images else None, with_images)
    outcome = execute(job, tasks, run, settings)
    print_json({**outcome.summary(), "out": str(settings.out_dir), "method": method})


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False
