"""Range and consistency checks shared by the method configs; each raises `ConfigError` naming the
dotted key, its source and the values."""
from __future__ import annotations

from typing import Any, Mapping

from samplegen.anchors.config import CoderParams, MaxIoUParams, SamplerParams
from samplegen.config.build import fail


def check_assigner(prefix: str, a: MaxIoUParams, sources: Mapping[str, str]) -> None:
    if not 0.0 <= a.pos_iou_thr <= 1.0:
        fail(prefix + "pos_iou_thr", f"must be in [0, 1], got {a.pos_iou_thr}", sources)
    neg = a.neg_iou_thr
    top = neg[1] if isinstance(neg, tuple) else neg
    bottom = neg[0] if isinstance(neg, tuple) else 0.0
    if not 0.0 <= bottom <= top <= a.pos_iou_thr:
        fail(prefix + "neg_iou_thr", f"must satisfy 0 <= neg <= pos_iou_thr ({a.pos_iou_thr}), got {neg}", sources)
    if not 0.0 <= a.min_pos_iou <= 1.0:
        fail(prefix + "min_pos_iou", f"must be in [0, 1], got {a.min_pos_iou}", sources)


def check_coder(prefix: str, coder: CoderParams, sources: Mapping[str, str]) -> None:
    if any(s <= 0 for s in coder.target_stds):
        fail(prefix + "target_stds", f"must be positive, got {list(coder.target_stds)}", sources)


def check_sampler(prefix: str, sampler: SamplerParams, sources: Mapping[str, str]) -> None:
    if sampler.type == "pseudo":
        given = [k for k in ("num", "pos_fraction", "neg_pos_ub", "add_gt_as_proposals")
                 if getattr(sampler, k) is not None]
        if given:
            fail(prefix + given[0], "is not used by the pseudo sampler (type: pseudo)", sources)
        return
    for key in ("num", "pos_fraction", "neg_pos_ub", "add_gt_as_proposals"):
        if getattr(sampler, key) is None:
            fail(prefix + key, "is required when a random sampler runs", sources)
    if sampler.num <= 0:
        fail(prefix + "num", f"must be positive, got {sampler.num}", sources)
    if not 0.0 <= sampler.pos_fraction <= 1.0:
        fail(prefix + "pos_fraction", f"must be in [0, 1], got {sampler.pos_fraction}", sources)


def check_len(key: str, values: Any, count: int, sources: Mapping[str, str]) -> None:
    if values is not None and len(values) != count:
        fail(key, f"needs one entry per level ({count} strides), got {len(values)}", sources)


def check_method(cfg: Any, names: tuple[str, ...], sources: Mapping[str, str]) -> None:
    if cfg.method not in names:
        fail("method", f"'{cfg.method}' is not one of {list(names)}", sources)


def check_positive_strides(strides: tuple[int, ...], sources: Mapping[str, str]) -> None:
    if not strides or any(s <= 0 for s in strides):
        fail("prior_generator.strides", f"must be a non-empty list of positive integers, got {list(strides)}", sources)
