"""`fit_anchors`: the ``samplegen fit-anchors`` command as a library function."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from samplegen import embedded
from samplegen.anchors.fit import best_prior_iou, network_boxes, recall_table, suggest_overrides
from samplegen.anchors.methods import build_method_config, method_of
from samplegen.config.layers import dump_yaml
from samplegen.datasets import read_dataset
from samplegen.errors import ConfigError
from samplegen.pipelines.anchors import resolve_method
from samplegen.pipelines.options import run_options
from samplegen.pipelines.summary import RunSummary
from samplegen.rng import rng_for
from samplegen.writers.base import write_bytes_atomic

FIT_KEY = "samplegen.anchors.fit"  # rng stream of the k-means initialisation


def fit_anchors(method: str = "fpn", *, annotations: str | Path | None = None, format: str = "coco",
                images: str | Path | None = None, write_config: str | Path | None = None,
                seed: int | None = None, config: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None) -> RunSummary:
    """Best-prior recall of `method`'s anchors per box size, and a fitted anchor set with the same
    figures, as a config snippet (written to `write_config` when given).

    Raises:
        ConfigError: the method has no anchors to fit, or no box has a known image size.
    """
    options = run_options(seed=seed, config=config, overrides=overrides or {}, environ=environ)
    cfg, resolved = resolve_method(method, options)
    refusal = method_of(cfg).not_fittable
    if refusal is not None:
        raise ConfigError(refusal)
    if annotations is None:
        annotations, format, images = embedded.COCO, "coco", embedded.ROOT
    records = read_dataset(format, annotations, images).records
    sized = [r for r in records if r.width is not None and r.height is not None]
    if not any(r.num_boxes for r in sized):
        raise ConfigError(f"{annotations}: no box with a known image size (give --images for this format)")
    sizes, best = best_prior_iou(sized, cfg)
    wh = np.concatenate([np.diff(b.reshape(-1, 2, 2), axis=1)[:, 0] for b in
                         (network_boxes(r, cfg) for r in sized if r.num_boxes)])
    suggested = suggest_overrides(wh, cfg, rng_for(resolved.engine().seed, FIT_KEY))
    fitted = build_method_config(method, resolved.layered.merge(suggested, "fit-anchors"))
    fitted_sizes, fitted_best = best_prior_iou(sized, fitted)
    snippet = f"# samplegen fit-anchors --method {method} on {Path(annotations).name}\n" + dump_yaml(suggested)
    if write_config is not None:
        write_bytes_atomic(Path(write_config), snippet.encode("utf-8"))
    fields = {
        "method": method, "images": len(sized), "images_without_size": len(records) - len(sized),
        "boxes": int(sizes.shape[0]), "recall": recall_table(sizes, best),
        "suggested": suggested, "suggested_recall": recall_table(fitted_sizes, fitted_best),
        "config_snippet": snippet, "written": str(write_config) if write_config else None,
    }
    return RunSummary("fit-anchors", None, fields)
