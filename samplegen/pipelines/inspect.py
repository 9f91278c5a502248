"""`inspect_annotations` and `output_stats`: the ``inspect`` and ``stats`` commands as functions."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from samplegen import embedded
from samplegen.datasets import read_dataset
from samplegen.datasets.stats import dataset_stats
from samplegen.engine.manifest import read_manifest
from samplegen.errors import ConfigError


def inspect_annotations(annotations: str | Path | None = None, format: str | None = None,
                        images: str | Path | None = None) -> dict[str, Any]:
    """Images, boxes, ignored and dropped boxes, classes and box sizes of an annotation file
    (`samplegen.datasets.stats.dataset_stats`); the embedded sample without `annotations`."""
    if annotations is None:
        annotations, format = embedded.WIDER, format or "wider"
        images = images or embedded.ROOT
    elif format is None:
        raise ConfigError("a format is required with annotations (--format)")
    return dataset_stats(read_dataset(format, annotations, images))


def output_stats(out_dir: str | Path) -> dict[str, Any]:
    """Samples per class / per level, IoU histograms and GTs without a positive prior of a run's
    output (`samplegen.outputs.stats`), with its command and completeness."""
    from samplegen.outputs.anchors import output_method_config, read_anchors
    from samplegen.outputs.mtcnn import read_mtcnn
    from samplegen.outputs.stats import anchors_output_stats, mtcnn_output_stats

    out = Path(out_dir)
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
