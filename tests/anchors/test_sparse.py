"""The sparse stored form of one image's labels (`anchors.sparse`): runs, exact round trips, the
invariants it refuses to store lossily, and pre-sparse (dense) npz passed through."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.anchors.labels import IGNORE, NEGATIVE, NO_LABEL
from samplegen.anchors.sparse import dense_arrays, mask_runs, runs_mask, sparse_arrays, sparse_counts


def test_runs_of_a_mask():
    mask = np.array([1, 1, 0, 0, 1, 0, 1, 1, 1], bool)
    assert mask_runs(mask).tolist() == [[0, 2], [4, 5], [6, 9]]
    assert mask_runs(np.zeros(5, bool)).shape == (0, 2)
    assert mask_runs(np.ones(3, bool)).tolist() == [[0, 3]]
    for m in (mask, np.zeros(5, bool), np.ones(3, bool), np.zeros(0, bool)):
        np.testing.assert_array_equal(runs_mask(mask_runs(m), len(m)), m)


def arrays(num: int = 12) -> dict:
    assigned = np.full(num, NEGATIVE, np.int32)
    assigned[[2, 3, 4, 9]] = IGNORE
    assigned[[5, 7]] = [2, 1]
    labels = np.full(num, NO_LABEL, np.int32)
    labels[[5, 7]] = [17, 0]
    max_iou = np.linspace(0, 1, num).astype(np.float32)
    sampled = np.zeros(num, bool)
    sampled[[0, 5, 7, 11]] = True
    return {"assigned_gt": assigned, "labels": labels, "max_iou": max_iou, "sampled": sampled,
            "pos_inds": np.array([5, 7], np.int32), "pos_targets": np.ones((2, 4), np.float32),
            "priors_per_level": np.array([8, 4], np.int32), "gt_boxes": np.zeros((2, 4), np.float32)}


def test_round_trip_is_exact_with_and_without_max_iou():
    dense = arrays()
    stored = sparse_arrays(dense)
    assert stored["ignored_runs"].tolist() == [[2, 5], [9, 10]]
    assert stored["pos_gt_inds"].tolist() == [1, 0] and stored["pos_labels"].tolist() == [17, 0]
    assert stored["sampled_inds"].tolist() == [0, 5, 7, 11]
    assert "max_iou" not in stored and stored["pos_max_iou"].tolist() == dense["max_iou"][[5, 7]].tolist()
    back = dense_arrays(stored)
    assert set(back) == set(dense) - {"max_iou"} | {"pos_max_iou"}
    for key in set(dense) - {"max_iou"}:
        assert back[key].dtype == dense[key].dtype and np.array_equal(back[key], dense[key]), key
    full = dense_arrays(sparse_arrays(dense, keep_max_iou=True))
    assert set(full) == set(dense)
    np.testing.assert_array_equal(full["max_iou"], dense["max_iou"])
    assert sparse_counts(stored) == {"pos": 2, "neg": 6, "ignored": 4, "sampled": 4}


def test_no_positive_and_no_prior():
    dense = {"assigned_gt": np.zeros(5, np.int32), "labels": np.full(5, NO_LABEL, np.int32),
             "pos_inds": np.zeros(0, np.int32), "priors_per_level": np.array([5], np.int32)}
    back = dense_arrays(sparse_arrays(dense))
    np.testing.assert_array_equal(back["assigned_gt"], dense["assigned_gt"])
    empty = {"assigned_gt": np.zeros(0, np.int32), "labels": np.zeros(0, np.int32),
             "pos_inds": np.zeros(0, np.int32), "priors_per_level": np.zeros(0, np.int32)}
    assert dense_arrays(sparse_arrays(empty))["assigned_gt"].shape == (0,)


def test_broken_invariants_are_refused():
    bad = arrays()
    bad["pos_inds"] = np.array([5], np.int32)          # prior 7 is positive but not listed
    with pytest.raises(ValueError, match="pos_inds"):
        sparse_arrays(bad)
    bad = arrays()
    bad["labels"][0] = 3                               # a label on a negative
    with pytest.raises(ValueError, match="label"):
        sparse_arrays(bad)


def test_dense_npz_of_the_previous_format_passes_through():
    dense = arrays()
    back = dense_arrays(dense)
    assert set(back) == set(dense)
    assert all(np.array_equal(back[k], dense[k]) for k in dense)
    assert sparse_counts(dense) == {"pos": 2, "neg": 6, "ignored": 4, "sampled": 4}
