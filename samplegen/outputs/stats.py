"""Statistics of what a run wrote (``samplegen stats``), pure over samples read back.

MTCNN: samples per class, IoU histogram per class, mirrored/rotated counts, images used.
Anchors: priors per label and per level, the IoU histogram of positives, and the GT boxes that
received no positive prior, by size bucket: the classic sign that a method's anchors do not fit
the data (reference-semantics D.2 "diagnostics").
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from samplegen.anchors.fit import SIZE_BUCKETS, bucket_name
from samplegen.anchors.labels import count_labels, gt_index_of
from samplegen.mtcnn.labels import CLASS_NAMES, CLASS_ORDER

IOU_BINS = np.round(np.linspace(0.0, 1.0, 21), 2)  # 0.05 wide, the last bin closed at 1.0


def iou_histogram(values: np.ndarray) -> list[int]:
    """Counts of `values` in the 20 `IOU_BINS` intervals (``[lo, hi)``, the last ``[0.95, 1]``)."""
    return np.histogram(np.clip(values, 0.0, 1.0), bins=IOU_BINS)[0].astype(int).tolist()


def mtcnn_output_stats(samples: Iterable[dict]) -> dict:
    """Counts and IoU histograms of MTCNN samples (dicts from `read_mtcnn`, images not needed)."""
    per_class: Counter[str] = Counter()
    ious: dict[str, list[float]] = {CLASS_NAMES[c]: [] for c in CLASS_ORDER}
    mirrored = rotated = 0
    sources: set = set()
    for sample in samples:
        name = CLASS_NAMES[int(sample["cls"])]
        per_class[name] += 1
        if "iou" in sample:
            ious[name].append(float(sample["iou"]))
        mirrored += bool(sample.get("mirror", False))
        rotated += float(sample.get("angle", 0.0)) != 0.0
        if "source" in sample:
            sources.add(sample["source"])
    return {
        "samples": sum(per_class.values()),
        "per_class": {CLASS_NAMES[c]: per_class[CLASS_NAMES[c]] for c in CLASS_ORDER},
        "iou_bins": IOU_BINS.tolist(),
        "iou_histogram": {name: iou_histogram(np.asarray(v)) for name, v in ious.items() if v},
        "mirrored": mirrored,
        "rotated": rotated,
        "source_images": len(sources) or None,
    }


def anchors_output_stats(samples: Iterable[dict], strides: Sequence[int] | None = None) -> dict:
    """Label counts, per-level positives, positive IoU histogram and GTs left without a positive.

    Args:
        samples: dicts from `read_anchors` (the npz arrays).
        strides: level strides, used only to name levels (``stride8``); ``level0``... otherwise.
    """
    labels: Counter[str] = Counter()
    levels: dict[int, Counter] = {}
    pos_ious: list[np.ndarray] = []
    gt_sizes, gt_missed = [], []
    images = 0
    for sample in samples:
        images += 1
        assigned = sample["assigned_gt"]
        labels.update(count_labels(sample))
        level_of = np.repeat(np.arange(len(sample["priors_per_level"])), sample["priors_per_level"])
        for level, count in zip(*np.unique(level_of[sample["pos_inds"]], return_counts=True)):
            levels.setdefault(int(level), Counter())["pos"] += int(count)
        for level, count in enumerate(sample["priors_per_level"]):
            levels.setdefault(level, Counter())["priors"] += int(count)
        if "max_iou" in sample:
            pos_ious.append(sample["max_iou"][sample["pos_inds"]])
        elif "pos_max_iou" in sample:          # stored without --with-max-iou
            pos_ious.append(sample["pos_max_iou"])
        boxes = sample["gt_boxes"]
        covered = np.zeros(boxes.shape[0], bool)
        covered[np.unique(gt_index_of(assigned))] = True
        gt_sizes.append(np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 0)))
        gt_missed.append(~covered)
    sizes = np.concatenate(gt_sizes) if gt_sizes else np.zeros(0)
    missed = np.concatenate(gt_missed) if gt_missed else np.zeros(0, bool)
    names = {lvl: (f"stride{strides[lvl]}" if strides and lvl < len(strides) else f"level{lvl}") for lvl in levels}
    return {
        "images": images,
        "priors": dict(labels),
        "per_level": {names[lvl]: {"priors": levels[lvl]["priors"], "pos": levels[lvl]["pos"]}
                      for lvl in sorted(levels)},
        "iou_bins": IOU_BINS.tolist(),
        "pos_iou_histogram": iou_histogram(np.concatenate(pos_ious)) if pos_ious else None,
        "gt_boxes": int(sizes.shape[0]),
        "gt_without_positive": int(missed.sum()),
        "gt_without_positive_by_size": {
            bucket_name(lo, hi): {"boxes": int(((sizes >= lo) & (sizes < hi)).sum()),
                                  "without_positive": int((missed & (sizes >= lo) & (sizes < hi)).sum())}
            for lo, hi in zip(SIZE_BUCKETS[:-1], SIZE_BUCKETS[1:])},
    }
