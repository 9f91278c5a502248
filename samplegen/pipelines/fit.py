"""`fit_anchors`: the ``samplegen fit-anchors`` command as a library function."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from samplegen import embedded
from samplegen.anchors.fit import best_prior_iou, fit_anchor_set, recall_table, report_thresholds
from samplegen.anchors.methods import build_method_config, method_of
from samplegen.config.layers import dump_yaml
from samplegen.errors import ConfigError
from samplegen.pipelines.anchors import resolve_method
from samplegen.pipelines.inputs import Inputs
from samplegen.pipelines.options import run_options
from samplegen.pipelines.summary import RunSummary
from samplegen.rng import rng_for
from samplegen.writers.base import write_bytes_atomic

FIT_KEY = "samplegen.anchors.fit"  # rng stream of the k-means starts
LABELLED_IMAGES = 200              # images of the labelling pass (evenly spread over the sorted keys)


def fit_anchors(method: str = "fpn", *, annotations: str | Path | None = None, format: str = "auto",
                images: str | Path | None = None, write_config: str | Path | None = None,
                seed: int | None = None, labelled_images: int = LABELLED_IMAGES, config: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None,
                environ: Mapping[str, str] | None = None, allow_drops: bool = False) -> RunSummary:
    """Recall of `method`'s anchors per box size at 0.3 / 0.5 / 0.7 and the method's own
    thresholds, and an anchor set fitted to what the method's assigner rewards, never worse at
    its positive threshold (None, with ``preset_is_best``, when the search finds nothing better);
    the positives per GT of a real labelling pass before and after; the set as a config snippet
    (written to `write_config` when given and a set is suggested).

    Raises:
        ConfigError: the method has no anchors to fit, or no box has a known image size.
    """
    options = run_options(seed=seed, config=config, overrides=overrides or {}, environ=environ)
    cfg, resolved = resolve_method(method, options)
    if method_of(cfg).fit_space is None:
        raise ConfigError(method_of(cfg).not_fittable or f"{method} has no anchors to fit")
    if annotations is None:
        annotations, format, images = embedded.COCO, "coco", embedded.ROOT
    with Inputs() as sources:
        dataset = sources.dataset(format, annotations, images, allow_drops=allow_drops, sizes_from="--images")
    records = sorted(dataset.records, key=lambda r: r.key)
    sized = [r for r in records if r.width is not None and r.height is not None]
    if not any(r.num_boxes for r in sized):
        raise ConfigError(f"{annotations}: no box with a known image size (give --images for this format)")
    engine_seed = resolved.engine().seed
    build = lambda values: build_method_config(method, resolved.layered.merge(values, "fit-anchors"))  # noqa: E731
    step = max(1, len(sized) // max(1, labelled_images))
    sample = sized[::step][:labelled_images]
    try:
        outcome = fit_anchor_set(sized, cfg, rng_for(engine_seed, FIT_KEY), build, sample, engine_seed)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    fitted = build(outcome.overrides) if outcome.overrides is not None else cfg
    thresholds = report_thresholds(outcome.criterion)
    sizes, best = best_prior_iou(sized, cfg)
    fitted_sizes, fitted_best = best_prior_iou(sized, fitted)
    fields = {
        "method": method, "images": len(sized), "images_without_size": len(records) - len(sized),
        "boxes": int(sizes.shape[0]), "criterion": _criterion(outcome, cfg),
        "recall": recall_table(sizes, best, thresholds),
        "suggested": outcome.overrides, "preset_is_best": outcome.overrides is None,
        "suggested_recall": recall_table(fitted_sizes, fitted_best, thresholds),
        "objective": {"preset": list(outcome.preset), "suggested": list(outcome.fitted),
                      "evaluations": outcome.evaluations, "candidates_checked": outcome.checked},
        "labelling": outcome.labelling,
    }
    snippet = None
    if outcome.overrides is not None:
        snippet = f"# samplegen fit-anchors --method {method} on {Path(annotations).name}\n" + dump_yaml(outcome.overrides)
        if write_config is not None:
            write_bytes_atomic(Path(write_config), snippet.encode("utf-8"))
    fields["config_snippet"] = snippet
    fields["written"] = str(write_config) if write_config is not None and snippet is not None else None
    if outcome.overrides is None:
        fields["note"] = (f"the {method} preset's anchors are already the best the search found for this data: "
                          f"no set raises recall at its positive threshold without costing GTs their positives; "
                          f"nothing to suggest")
    return RunSummary("fit-anchors", None, fields)


def _criterion(outcome, cfg) -> dict:
    c = outcome.criterion
    if c.score == "iou":
        return {"score": "best prior IoU", "positive_iou": c.positive, "low_quality_iou": c.low_quality,
                "objective": "recall at positive_iou, then at low_quality_iou, then mean best IoU"}
    return {"score": "best min(r, 1/r) of the box / anchor sides", "anchor_t": cfg.assigner.anchor_t,
            "objective": "share of boxes with an anchor under anchor_t (best possible recall), then the mean best"}
