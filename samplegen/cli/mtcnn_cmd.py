"""``samplegen mtcnn --size 12|24|48``: balanced pos / part / neg / landmark crops."""
from __future__ import annotations

from pathlib import Path

import click

from samplegen import __version__, embedded
from samplegen.cli import cli
from samplegen.cli.options import (
    EngineOptions, decisive_config, engine_options, engine_settings, format_option, resolve_config,
    split_engine)
from samplegen.cli.output import print_json
from samplegen.datasets import READERS, read_dataset
from samplegen.datasets.detections import read_detections
from samplegen.engine.manifest import RunDescription, describe_input
from samplegen.engine.distribute import WorkerPool
from samplegen.engine.plan import plan_shards
from samplegen.engine.run import execute, skip_reasons
from samplegen.errors import ConfigError
from samplegen.jobs.mtcnn_job import IMAGE_FORMATS, LAYOUTS, MtcnnJob
from samplegen.jobs.mtcnn_plan import plan_run
from samplegen.mtcnn.config import PRESETS, load_mtcnn_config

STAGE_NAMES = {12: "pnet", 24: "rnet", 48: "onet"}


def parse_ratio(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.replace(",", ":").split(":")]
    except ValueError:
        raise click.BadParameter(f"expected pos:neg:part:landmark integers, got {text!r}") from None
    if len(values) != 4 or min(values) < 0 or sum(values) == 0:
        raise click.BadParameter(f"expected 4 non-negative integers pos:neg:part:landmark, got {text!r}")
    return values


@cli.command("mtcnn")
@click.option("--size", type=click.Choice(["12", "24", "48"]), default="12", show_default=True,
              help="Crop size: 12 PNet, 24 RNet, 48 ONet.")
@click.option("--annotations", type=click.Path(path_type=Path), help="Face annotations [embedded sample].")
@format_option(default="wider", show_default=True, help="Format of --annotations.")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path), help="Root of the face images.")
@click.option("--landmarks", type=click.Path(path_type=Path), help="Facial-point annotations.")
@click.option("--landmark-format", type=click.Choice(sorted(READERS)), default="facepoints", show_default=True)
@click.option("--landmark-images", type=click.Path(file_okay=False, path_type=Path),
              help="Root of the landmark images.")
@click.option("--detections", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON lines of previous-stage detections (24/48 hard examples).")
@click.option("--layout", type=click.Choice(LAYOUTS), default="packed", show_default=True)
@click.option("--image-format", type=click.Choice(sorted(IMAGE_FORMATS)), default="png", show_default=True,
              help="Image encoding of the wds and list layouts.")
@click.option("--ratio", help="pos:neg:part:landmark [1:3:1:2].")
@click.option("--allow-duplicates", is_flag=True, default=None, help="Fill short classes with replacement.")
@click.option("--pad", is_flag=True, default=None, help="Zero-pad crops leaving the image instead of dropping them.")
@click.option("--dry-run", is_flag=True, help="Plan and balance only; print the counts.")
@engine_options
def mtcnn_command(size: str, annotations: Path | None, format_name: str, images: Path | None,
                  landmarks: Path | None, landmark_format: str, landmark_images: Path | None,
                  detections: Path | None, layout: str, image_format: str, ratio: str | None,
                  allow_duplicates: bool | None, pad: bool | None, dry_run: bool,
                  engine: EngineOptions) -> None:
    """Generate MTCNN training crops (pos / part / neg / landmark), balanced to a ratio.

    With no --annotations/--landmarks, runs on the embedded sample.
    """
    crop_size = int(size)
    if annotations is None and landmarks is None:
        annotations, format_name, images = embedded.WIDER, "wider", embedded.ROOT
        landmarks, landmark_format, landmark_images = embedded.FACEPOINTS, "facepoints", embedded.ROOT
    if detections is not None and crop_size == 12:
        raise click.UsageError("--detections is for --size 24 or 48 (hard examples of the previous stage)")
    overrides = {"ratio": parse_ratio(ratio), "allow_duplicates": allow_duplicates, "pad": pad}
    layered = resolve_config(PRESETS[crop_size], engine, overrides)
    engine_values, method_values = split_engine(layered)
    cfg, _ = load_mtcnn_config(crop_size, method_values, "command line", layered.sources)
    settings = engine_settings(engine, engine_values, Path("samplegen-out") / STAGE_NAMES[crop_size])

    faces = read_dataset(format_name, annotations, images).records if annotations else []
    marks = read_dataset(landmark_format, landmarks, landmark_images).records if landmarks else []
    if marks and not any(r.landmarks is not None for r in marks):
        raise ConfigError(f"{landmarks}: format {landmark_format} carries no landmarks")
    dets = read_detections(detections) if detections else None
    # One pool for planning and cutting: starting workers costs ~0.25 s, a quarter of a small run.
    with WorkerPool(settings.workers) as pool:
        planned = plan_run(faces, marks, cfg, engine_values["seed"], pool, dets)
        if dry_run:
            print_json({"command": "mtcnn", "size": crop_size, "dry_run": True, **planned.counts()})
            return

        starved = planned.starved()
        if starved:
            # Nothing would be written: say why before creating any output.
            raise ConfigError(
                f"nothing to write: the ratio pos:neg:part:landmark {':'.join(map(str, planned.ratio))} "
                f"needs {' and '.join(starved)} samples and no image provided any "
                f"({len(planned.skipped)} images skipped while planning: {skip_reasons(planned.skipped)}); "
                f"fix the inputs, or give those classes a 0 share with --ratio")

        prefix = STAGE_NAMES[crop_size]
        tasks = plan_shards(planned.items, engine_values["shard_size"], key=lambda item: item.key)
        inputs = tuple(describe_input(role, path) for role, path in
                       (("annotations", annotations), ("landmarks", landmarks), ("detections", detections)) if path)
        run = RunDescription(
            command="mtcnn", version=__version__, config=decisive_config(layered),
            config_sources=layered.sources, seed=engine_values["seed"],
            layout=layout if layout == "packed" else f"{layout}:{image_format}",
            shard_size=engine_values["shard_size"], inputs=inputs, planned_shards=len(tasks),
            plan=planned.counts(), skipped=tuple(planned.skipped))
        job = MtcnnJob(str(settings.out_dir), prefix, layout, crop_size, cfg.pad, image_format,
                       str(images) if images else None, str(landmark_images) if landmark_images else None)
        outcome = execute(job, tasks, run, settings, pool)
    print_json({**outcome.summary(), "out": str(settings.out_dir), "size": crop_size,
                "layout": layout, "selected": planned.balance.totals()})
