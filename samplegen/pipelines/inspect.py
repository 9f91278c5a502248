"""`inspect_annotations`, `output_stats` and `show_config`: the ``inspect``, ``stats`` and
``config show`` commands as functions."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from samplegen import embedded
from samplegen.datasets.stats import dataset_stats
from samplegen.engine.manifest import read_manifest
from samplegen.errors import ConfigError
from samplegen.outputs.shards import output_folder
from samplegen.pipelines.inputs import Inputs


def inspect_annotations(annotations: str | Path | None = None, format: str | None = "auto",
                        images: str | Path | None = None, allow_drops: bool = False) -> dict[str, Any]:
    """Images, boxes, ignored and dropped boxes, classes and box sizes of an annotation file
    (`samplegen.datasets.stats.dataset_stats`); the embedded sample without `annotations`.
    `format` ``auto`` (the default) reads the file with the reader its first lines point to."""
    if annotations is None:
        annotations, format = embedded.WIDER, "wider"
        images = images or embedded.ROOT
    elif format is None:
        raise ConfigError("a format is required with annotations (--format)")
    with Inputs() as sources:
        return dataset_stats(sources.dataset(format, annotations, images, allow_drops=allow_drops))


def output_stats(out_dir: str | Path) -> dict[str, Any]:
    """Samples per class / per level, IoU histograms and GTs without a positive prior of a run's
    output (`samplegen.outputs.stats`), with its command and completeness."""
    from samplegen.outputs.anchors import output_method_config, read_anchors
    from samplegen.outputs.mtcnn import read_mtcnn
    from samplegen.outputs.stats import anchors_output_stats, mtcnn_output_stats

    out = output_folder(out_dir)
    manifest = read_manifest(out)
    if manifest is None:
        raise ConfigError(f"{out}: no manifest.json (not a samplegen output folder)")
    command = manifest.get("command")
    if command == "mtcnn":
        stats = mtcnn_output_stats(read_mtcnn(out, images=False))
    elif command == "anchors":
        stats = anchors_output_stats(read_anchors(out), output_method_config(out).strides)
    else:
        raise ConfigError(f"{out}: stats of '{command}' outputs are not supported")
    return {"command": command, "out": str(out), "complete": manifest["complete"], **stats}


def show_config(method: str | None = None, size: int | None = None, preset: str | None = None, *,
                config: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The configuration a command would run with, and the source of every value.

    Exactly one of `method` (``samplegen anchors --method``), `size` (``samplegen mtcnn --size``)
    or `preset` (``samplegen detect --preset``). The layering is the commands' own (preset <
    `config` file < ``SAMPLEGEN_*`` (`environ`) < `overrides`), and the values are built and
    validated as the command would, so a bad value is the same `ConfigError` it would raise.

    Returns:
        ``{"command": "config show", "preset": "anchors/fpn.yaml", "values": {...nested...},
        "sources": {dotted key: source}, "fingerprint": sha256 of the values}``.
    """
    from samplegen.mtcnn.config import PRESETS, build_mtcnn_config
    from samplegen.pipelines.anchors import resolve_method
    from samplegen.pipelines.detect import resolve_detect
    from samplegen.pipelines.options import run_options

    chosen = [name for name, value in (("method", method), ("size", size), ("preset", preset)) if value is not None]
    if len(chosen) != 1:
        raise ConfigError("give exactly one of a method (--method), a crop size (--size) or a detect preset (--preset)")
    options = run_options(config=config, overrides=overrides or {}, environ=environ)
    if method is not None:
        _, resolved = resolve_method(method, options)
        name = f"anchors --method {method}"
    elif size is not None:
        if size not in PRESETS:
            raise ConfigError(f"size: expected one of {sorted(PRESETS)}, got {size!r}")
        resolved = options.resolve(PRESETS[size])
        build_mtcnn_config(size, resolved)
        name = f"mtcnn --size {size}"
    else:
        _, resolved = resolve_detect(preset, options, options.overrides)
        name = f"detect --preset {preset}"
    resolved.engine()  # the engine keys are checked as every command checks them
    return {"command": "config show", "for": name, "values": resolved.layered.values,
            "sources": dict(sorted(resolved.sources.items())), "fingerprint": resolved.layered.fingerprint()}
