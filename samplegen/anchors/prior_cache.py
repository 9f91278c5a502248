"""Priors and valid flags built once per input geometry, not once per image.

A method's priors depend only on its config and on the padded input shape and feature-map sizes
(`InputGeometry.pad_shape`, ``featmap_sizes``), never on the image's own size or boxes. A labelling
worker sees few distinct padded shapes (COCO128 at 1333x800: 11 shapes for 128 images; every
SSD / YOLOv5 / CenterNet image: one), so rebuilding ~250k FPN anchors per image was ~15% of a run.

The cache is a small LRU per process, keyed by ``(builder, cfg, pad_shape, featmap_sizes, extra)``;
the arrays it returns are read-only so that no caller can change what the next image gets. It is
a memo of pure functions: results are the same with or without it.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np

from samplegen.anchors.geometry import InputGeometry

CACHE_ENTRIES = 16      # distinct (method, padded shape) pairs kept per process
_cache: OrderedDict[Hashable, Any] = OrderedDict()


def _frozen(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, tuple):
        for item in value:
            _frozen(item)
    return value


def memo(builder: Callable[..., Any], cfg: Any, g: InputGeometry, *extra: Hashable) -> Any:
    """``builder(cfg, g, *extra)``, computed once per ``(builder, cfg, g.pad_shape,
    g.featmap_sizes, extra)``; numpy results (or tuples of them) come back read-only."""
    key = (builder, cfg, g.pad_shape, g.featmap_sizes, extra)
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    value = _frozen(builder(cfg, g, *extra))
    _cache[key] = value
    if len(_cache) > CACHE_ENTRIES:
        _cache.popitem(last=False)
    return value


def clear() -> None:
    """Forget every cached entry (tests; a long-lived process changing configs needs nothing)."""
    _cache.clear()
