"""The sparse form of one image's labels (what ``KEY.npz`` stores), and its exact inverse.

`samplegen.anchors.methods.label_image` returns dense per-prior arrays over all A priors (250k for
FPN at 1333x800), almost all of them the same value: every prior NEGATIVE but a few hundred.
Compressing them cost a third of a labelling run and ~51 KB per image. The sparse form keeps the
exceptions only, and `dense_arrays` rebuilds the dense arrays **bit for bit**:

=====================  ===========================  =============================================
dense key (label_image) stored as                   rebuilt as
=====================  ===========================  =============================================
``assigned_gt`` [A]    ``pos_gt_inds`` int32 [P]    NEGATIVE everywhere, IGNORE on the runs,
                       (0-based GT of each          ``pos_gt_inds + 1`` at ``pos_inds``
                       ``pos_inds``), ``ignored_runs``
                       int32 [R, 2] (start, stop)
``labels`` [A]         ``pos_labels`` int32 [P]     NO_LABEL everywhere, ``pos_labels`` at
                                                    ``pos_inds``
``sampled`` [A]        ``sampled_inds`` int32 [S]   False everywhere, True at ``sampled_inds``
``responsible`` [A]    ``responsible_inds`` int32   False everywhere, True there (yolov3)
``max_iou`` [A]        ``pos_max_iou`` float32 [P]  only when written with ``--with-max-iou``
                       (always); ``max_iou`` itself (stored dense then); otherwise absent, and
                       with ``--with-max-iou``      ``pos_max_iou`` stands in for it
=====================  ===========================  =============================================

Every other array (``pos_inds``, ``pos_targets``, geometry, GTs, the YOLOv5 triples, the CenterNet
peaks) is stored as it is. A = ``priors_per_level.sum()``. Ignored priors come in runs (those
outside the allowed border are whole rows of a level), hence start/stop pairs rather than a list.

`sparse_arrays` checks the invariants it relies on (positives exactly at ``pos_inds``, labels only
there) and raises ValueError otherwise: a method whose arrays broke them would be a bug, and must
not be stored lossily. An npz written before this format (with a dense ``assigned_gt``) is
returned by `dense_arrays` unchanged.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from samplegen.anchors.labels import FIRST_POSITIVE, IGNORE, NEGATIVE, NO_LABEL, count_labels

Arrays = dict[str, np.ndarray]
DENSE_KEYS = ("assigned_gt", "labels", "max_iou", "sampled", "responsible")
SPARSE_KEYS = ("pos_gt_inds", "pos_labels", "pos_max_iou", "ignored_runs", "sampled_inds", "responsible_inds")


def mask_runs(mask: np.ndarray) -> np.ndarray:
    """int32 [R, 2]: the (start, stop) half-open runs of True in bool [A], ascending."""
    if not mask.any():
        return np.zeros((0, 2), np.int32)
    edges = np.flatnonzero(np.diff(mask.view(np.int8), prepend=np.int8(0), append=np.int8(0)))
    return edges.astype(np.int32).reshape(-1, 2)


def runs_mask(runs: np.ndarray, num: int) -> np.ndarray:
    """bool [num]: True inside the (start, stop) `runs` int [R, 2] (the inverse of `mask_runs`)."""
    steps = np.zeros(num + 1, np.int32)
    runs = np.asarray(runs).reshape(-1, 2)
    np.add.at(steps, runs[:, 0], 1)
    np.add.at(steps, runs[:, 1], -1)
    return np.cumsum(steps[:-1]) > 0


def sparse_arrays(arrays: Mapping[str, np.ndarray], keep_max_iou: bool = False) -> Arrays:
    """The stored form of `label_image`'s arrays (see the module docstring).

    Args:
        arrays: one image's dense arrays; ``assigned_gt``, ``labels``, ``pos_inds`` and
            ``priors_per_level`` are required.
        keep_max_iou: also store the dense ``max_iou`` (methods that have one).

    Raises:
        ValueError: ``pos_inds`` are not exactly the positives of ``assigned_gt``, or a
            non-positive prior has a label.
    """
    assigned, labels, pos = arrays["assigned_gt"], arrays["labels"], arrays["pos_inds"]
    out = {k: np.asarray(v) for k, v in arrays.items() if k not in DENSE_KEYS}
    gt_of_pos = assigned[pos]
    positives = int((assigned >= FIRST_POSITIVE).sum())
    if positives != len(pos) or (len(pos) and gt_of_pos.min() < FIRST_POSITIVE):
        raise ValueError("pos_inds are not the positives of assigned_gt")
    pos_labels = labels[pos]
    if int((labels != NO_LABEL).sum()) != int((pos_labels != NO_LABEL).sum()):
        raise ValueError("a prior that is not positive has a label")
    out["pos_gt_inds"] = (gt_of_pos - FIRST_POSITIVE).astype(np.int32)
    out["pos_labels"] = pos_labels.astype(np.int32)
    out["ignored_runs"] = mask_runs(assigned == IGNORE)
    if "sampled" in arrays:
        out["sampled_inds"] = np.flatnonzero(arrays["sampled"]).astype(np.int32)
    if "responsible" in arrays:
        out["responsible_inds"] = np.flatnonzero(arrays["responsible"]).astype(np.int32)
    if "max_iou" in arrays:
        out["pos_max_iou"] = arrays["max_iou"][pos].astype(np.float32)
        if keep_max_iou:
            out["max_iou"] = arrays["max_iou"]
    return out


def dense_arrays(stored: Mapping[str, np.ndarray]) -> Arrays:
    """The dense arrays of one stored sample (any mapping of name -> array, e.g. ``np.load(f)``
    or a WebDataset sample's decoded npz), equal bit for bit to what `label_image` returned.

    The result holds `label_image`'s keys (``max_iou`` only if it was stored; ``pos_max_iou``
    otherwise) and none of the sparse helper keys. A dense (pre-sparse) sample is returned as is.
    """
    if "assigned_gt" in stored:
        return {k: np.asarray(v) for k, v in stored.items()}
    num = int(np.asarray(stored["priors_per_level"]).sum())
    pos = np.asarray(stored["pos_inds"])
    out = {k: np.asarray(v) for k, v in stored.items() if k not in SPARSE_KEYS}
    assigned = np.full(num, NEGATIVE, np.int32)
    assigned[runs_mask(stored["ignored_runs"], num)] = IGNORE
    assigned[pos] = np.asarray(stored["pos_gt_inds"]) + FIRST_POSITIVE
    labels = np.full(num, NO_LABEL, np.int32)
    labels[pos] = stored["pos_labels"]
    out["assigned_gt"], out["labels"] = assigned, labels
    for key, inds in (("sampled", "sampled_inds"), ("responsible", "responsible_inds")):
        if inds in stored:
            flags = np.zeros(num, bool)
            flags[np.asarray(stored[inds])] = True
            out[key] = flags
    if "pos_max_iou" in stored and "max_iou" not in stored:
        out["pos_max_iou"] = np.asarray(stored["pos_max_iou"])
    return out


def sparse_counts(stored: Mapping[str, np.ndarray]) -> dict[str, int]:
    """`samplegen.anchors.labels.count_labels` of the dense arrays, read off the sparse form."""
    if "assigned_gt" in stored:
        return count_labels(stored)
    num = int(np.asarray(stored["priors_per_level"]).sum())
    runs = np.asarray(stored["ignored_runs"]).reshape(-1, 2)
    pos, ignored = len(stored["pos_inds"]), int((runs[:, 1] - runs[:, 0]).sum())
    counts = {"pos": pos, "neg": num - pos - ignored, "ignored": ignored}
    if "sampled_inds" in stored:
        counts["sampled"] = len(stored["sampled_inds"])
    return counts
