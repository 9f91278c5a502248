"""Dataset statistics for ``samplegen inspect``: pure over the records, JSON-serialisable.

Every box line/annotation/object of the input is counted in exactly one of ``boxes`` (usable
ground truth), ``ignored_boxes`` (WIDER invalid, COCO crowd, VOC difficult) and ``dropped_boxes``
(by reason, e.g. ``zero_size``), so their sum is the number of boxes in the file.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from samplegen.record import Dataset

PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


def dataset_stats(dataset: Dataset) -> dict[str, Any]:
    """Summary counts of a dataset.

    Returns:
        ``format``, ``source``; ``images`` (records); ``empty_images`` (records without a
        usable box; they may still have ignore regions); ``boxes``; ``ignored_boxes``;
        ``dropped_boxes`` (reason -> count, sorted by reason); ``classes`` (class name -> usable
        boxes, every class listed); ``box_size`` (``p0``, ``p5``, ``p25``, ``p50``, ``p75``,
        ``p95``, ``p100`` of ``sqrt(w * h)`` over usable boxes, linear interpolation, rounded to
        2 decimals; None without boxes); ``images_with_size`` (records whose width and height
        are known); ``landmarks`` (usable boxes that carry five points).
    """
    records = dataset.records
    dropped: Counter[str] = Counter()
    per_class = np.zeros(len(dataset.class_names), np.int64)
    sides = []
    for record in records:
        dropped.update(record.dropped)
        per_class += np.bincount(record.labels, minlength=len(per_class))[: len(per_class)]
        wh = (record.boxes[:, 2:] - record.boxes[:, :2]).astype(np.float64)
        sides.append(np.sqrt(np.clip(wh[:, 0] * wh[:, 1], 0, None)))
    all_sides = np.concatenate(sides) if sides else np.zeros(0)
    return {
        "format": dataset.format,
        "source": dataset.source,
        "images": len(records),
        "empty_images": sum(1 for r in records if r.num_boxes == 0),
        "boxes": int(sum(r.num_boxes for r in records)),
        "ignored_boxes": int(sum(r.ignore.shape[0] for r in records)),
        "dropped_boxes": {reason: int(n) for reason, n in sorted(dropped.items())},
        "classes": _per_name(dataset.class_names, per_class),
        "box_size": _percentiles(all_sides),
        "images_with_size": sum(1 for r in records if r.width is not None and r.height is not None),
        "landmarks": int(sum(r.num_boxes for r in records if r.landmarks is not None)),
    }


def _per_name(names: tuple[str, ...], counts: np.ndarray) -> dict[str, int]:
    """Counts by class name; two indices with the same name (possible in COCO) are summed."""
    out: dict[str, int] = {}
    for name, n in zip(names, counts):
        out[name] = out.get(name, 0) + int(n)
    return out


def _percentiles(values: np.ndarray) -> dict[str, float] | None:
    if values.size == 0:
        return None
    points = np.percentile(values, PERCENTILES)
    return {f"p{p}": round(float(v), 2) for p, v in zip(PERCENTILES, points)}
