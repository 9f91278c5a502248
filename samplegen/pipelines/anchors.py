"""`run_anchors` and `anchor_priors`: the ``samplegen anchors`` command as library functions."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from samplegen import __version__, embedded
from samplegen.anchors.methods import build_method_config, method_entry, needs_proposals, priors_for
from samplegen.datasets.detections import detections_for, match_detections, read_detections
from samplegen.engine.manifest import RunDescription
from samplegen.engine.run import execute
from samplegen.errors import ConfigError, InputError
from samplegen.pipelines.anchor_shards import AnchorItem, AnchorsJob
from samplegen.pipelines.inputs import Inputs
from samplegen.pipelines.options import RunOptions, job_path, run_options
from samplegen.pipelines.summary import RunSummary


def resolve_method(method: str, options: RunOptions, explicit: Mapping[str, Any] | None = None):
    """(method config, resolved configuration) of `method` under `options` and explicit values;
    the one resolution `anchors`, ``show anchors`` and ``fit-anchors`` share."""
    entry = method_entry(method)
    resolved = options.resolve(entry.preset, explicit, getattr(entry.config_cls, "RENAMED_KEYS", None))
    return build_method_config(method, resolved), resolved


def anchor_priors(method: str = "ssd", height: int = 300, width: int = 300, *, compat: str | None = None,
                  overrides: Mapping[str, Any] | None = None, config: str | Path | None = None,
                  environ: Mapping[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The priors (or points) of `method` for an ``height x width`` image, as `label_image` uses them.

    Returns:
        priors float32 [A, 4] (points [A, 2] for fcos) and priors_per_level int32 [L].
    """
    if height < 1 or width < 1:
        raise ConfigError(f"priors: height and width must be >= 1, got {height} x {width}")
    options = run_options(config=config, overrides=overrides or {}, environ=environ)
    cfg, _ = resolve_method(method, options, {"compat": compat})
    return priors_for(cfg, height, width)


def describe_priors(method: str = "ssd", height: int = 300, width: int = 300, save: str | Path | None = None,
                    **config: Any) -> dict[str, Any]:
    """What ``samplegen anchors --priors H W [--save FILE]`` prints: the priors' count per level and
    the priors themselves, or the ``.npy`` file they were saved to (`config`: `anchor_priors`'s
    keyword arguments).

    Raises:
        ConfigError: bad sizes or configuration; `save`'s folder does not exist.
    """
    priors, per_level = anchor_priors(method, height, width, **config)
    summary = {"method": method, "height": height, "width": width,
               "priors_per_level": per_level.tolist(), "num_priors": int(priors.shape[0])}
    if save is None:
        return {**summary, "priors": priors.tolist()}
    save = Path(save)
    if not save.parent.is_dir():
        raise ConfigError(f"--save {save}: folder {save.parent} does not exist")
    np.save(save, priors)
    return {**summary, "saved": str(save)}


def run_anchors(method: str = "ssd", *, annotations: str | Path | None = None, format: str = "auto",
                images: str | Path | None = None, stage: str | None = None,
                proposals: str | Path | None = None, compat: str | None = None,
                neg_sampling: str | None = None, with_images: bool = False, with_max_iou: bool = False,
                allow_drops: bool = False, out: str | Path | None = None, workers: int | None = None,
                seed: int | None = None, shard_size: int | None = None, shards: int | None = None,
                max_errors: int | None = None, resume: bool = False, overwrite: bool = False,
                progress: bool = False, config: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
                engine: str = "local", ray_address: str | None = None, ray_env: Sequence[str] = (),
                verify: bool = False, follow_symlinks: bool = False) -> RunSummary:
    """Label the priors (or points) of every image as `method` trains, like ``samplegen anchors``.

    With no `annotations`, runs on the embedded sample. Layering: the method's preset <
    `config` < ``SAMPLEGEN_*`` < `overrides` (``{"assigner.pos_iou_thr": 0.6}``) < `stage`,
    `compat`, `neg_sampling` and the engine arguments.

    Args:
        method: a key of `samplegen.anchors.methods.METHODS`.
        annotations, format, images: the annotations, their reader and the images root.
        stage: faster_rcnn / fpn: ``rpn`` (anchors) or ``rcnn`` (label `proposals`).
        proposals: JSON lines of proposals per image (``stage="rcnn"``).
        compat: ``mmdet`` or ``torchvision`` semantics; neg_sampling: SSD ``none`` or ``random``.
        with_images: also write the resized, padded network input of each image.
        with_max_iou: also store the dense per-prior ``max_iou`` (IoU methods); otherwise only
            its values at the positives (``pos_max_iou``) are stored.
        allow_drops: read annotations even when their reader drops more than 20 % of the boxes.
        out ... ray_address: see `RunOptions`.
    """
    options = run_options(out=out, workers=workers, seed=seed, shard_size=shard_size, shards=shards,
                          max_errors=max_errors, resume=resume, overwrite=overwrite, progress=progress,
                          config=config, overrides=overrides or {}, environ=environ, engine=engine,
                          ray_address=ray_address, ray_env=ray_env, verify=verify,
                          follow_symlinks=follow_symlinks)
    explicit = {"stage": stage, "compat": compat,
                "neg_mining": {"sampling": neg_sampling} if neg_sampling is not None else None}
    cfg, resolved = resolve_method(method, options, explicit)
    values = resolved.engine()
    if needs_proposals(cfg) and proposals is None:
        raise ConfigError("stage rcnn labels proposals: give --proposals")
    if annotations is None:
        annotations, format, images = embedded.COCO, "coco", embedded.ROOT
    settings = options.settings(values, Path("samplegen-out") / f"anchors-{method}")
    with Inputs() as sources:
        dataset = sources.dataset(format, annotations, images, allow_drops=allow_drops, sizes_from="--images")
        props = read_detections(sources.local(proposals)) if proposals else {}
        if proposals:
            match = match_detections(props, dataset.records)
            if match.matched == 0:   # every image would be labelled without proposals
                raise InputError(proposals, None, match.message())
        inputs = sources.describe(annotations=annotations, proposals=proposals)
    records = sorted(dataset.records, key=lambda r: r.key)
    items = [AnchorItem(i, r, detections_for(props, r)[:, :4] if proposals else None)
             for i, r in enumerate(records)]
    tasks, values, resolved = options.shard(items, values, resolved, key=lambda item: item.record.key)
    run = RunDescription(
        command="anchors", version=__version__,
        config=resolved.decisive() | {"with_images": with_images, "with_max_iou": with_max_iou},
        config_sources=resolved.decisive_sources, seed=values.seed, layout="wds", shard_size=values.shard_size,
        inputs=inputs, planned_shards=len(tasks),
        plan={"class_names": list(dataset.class_names),
              **{k: v for k, v in dataset.meta.items() if _jsonable(v)}})
    job = AnchorsJob(job_path(settings.out_dir), method, method, cfg, values.seed, job_path(images), with_images,
                     with_max_iou, follow_symlinks)
    with options.pool(settings.workers, (AnchorsJob.__module__,)) as pool:
        outcome = execute(job, tasks, run, settings, pool)
    fields = {**outcome.summary(), "out": str(settings.out_dir), "method": method}
    return RunSummary("anchors", settings.out_dir, fields, outcome.manifest)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False

