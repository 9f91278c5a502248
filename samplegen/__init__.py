"""samplegen: turn raw detection annotations into ready-to-train samples, offline.

The library API (each name is imported on first use, so ``import samplegen`` loads neither
OpenCV nor YAML):

* `run_mtcnn`, `run_anchors` - the ``samplegen mtcnn`` / ``anchors`` commands as functions,
  returning the `RunSummary` the CLI prints; output folders are byte-identical to the CLI's;
* `fit_anchors`, `inspect_annotations`, `output_stats` - the ``fit-anchors``, ``inspect`` and
  ``stats`` commands;
* `anchor_config`, `label_image`, `priors_for` - one image's anchor labels and priors;
* `read_mtcnn`, `read_anchors` - iterate the samples of an output folder; `decode_anchor_sample`
  - the decoder step of a WebDataset loader (Ray Data, webdataset) over an anchors output;
* `read_dataset`, `Record`, `Dataset` - the annotation readers and what they return.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "run_mtcnn": "samplegen.pipelines.mtcnn",
    "run_anchors": "samplegen.pipelines.anchors",
    "fit_anchors": "samplegen.pipelines.fit",
    "inspect_annotations": "samplegen.pipelines.inspect",
    "output_stats": "samplegen.pipelines.inspect",
    "RunSummary": "samplegen.pipelines.summary",
    "anchor_config": "samplegen.anchors.methods",
    "label_image": "samplegen.anchors.methods",
    "priors_for": "samplegen.anchors.methods",
    "read_mtcnn": "samplegen.outputs.mtcnn",
    "read_anchors": "samplegen.outputs.anchors",
    "decode_anchor_sample": "samplegen.outputs.anchors",
    "read_dataset": "samplegen.datasets",
    "Record": "samplegen.record",
    "Dataset": "samplegen.record",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'samplegen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
