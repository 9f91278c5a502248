"""samplegen.mtcnn.balance: exact global ratio, no duplicates unless asked, deterministic."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplegen.mtcnn.balance import balance, class_targets, kept_rows
from samplegen.mtcnn.labels import CLASS_ORDER
from samplegen.mtcnn.landmarks import plan_landmarks
from samplegen.mtcnn.crop_plan import class_counts, select
from samplegen.mtcnn.propose import plan_faces
from samplegen.rng import rng_for


def _planned(records_faces, records_landmarks, cfg):
    plans = [plan_faces(r, cfg, rng_for(0, r.key)) for r in records_faces]
    plans += [plan_landmarks(r, cfg, rng_for(0, r.key)) for r in records_landmarks]
    return plans


def _check_selection(plans, result, ratio):
    kept = np.zeros(4, np.int64)
    for i, plan in enumerate(plans):
        rows = result.rows(i, plan.cls)
        assert np.array_equal(rows, np.sort(rows))
        kept += class_counts(select(plan, rows))
    assert np.array_equal(kept, result.targets)
    unit = result.targets.sum() // sum(ratio)
    assert np.array_equal(result.targets, np.asarray(ratio) * unit)


def test_real_data_exact_ratio_without_duplicates(dlib_wider, dlib_landmarks, wider_subset, make_config):
    cfg = make_config(12, landmark={"min_face": 20})
    plans = _planned(dlib_wider + wider_subset[:100], dlib_landmarks, cfg)
    counts = np.stack([class_counts(p) for p in plans])
    result = balance(counts, cfg.ratio, seed=0)
    _check_selection(plans, result, cfg.ratio)
    # The scarcest class relative to its share sets the total.
    unit = min(counts.sum(0)[c] // cfg.ratio[c] for c in range(4))
    assert unit > 0 and result.targets.tolist() == [r * unit for r in cfg.ratio]
    assert not result.duplicates.any()
    for chosen in result.chosen:
        assert np.unique(chosen).shape == chosen.shape
    assert result.totals() == dict(zip(["pos", "neg", "part", "landmark"], result.targets.tolist()))


def test_same_seed_same_choice_other_seed_other_choice():
    counts = np.random.default_rng(0).integers(0, 50, (300, 4))
    a, b, c = balance(counts, (1, 3, 1, 2), 5), balance(counts, (1, 3, 1, 2), 5), balance(counts, (1, 3, 1, 2), 6)
    assert all(np.array_equal(x, y) for x, y in zip(a.chosen, b.chosen))
    assert not all(np.array_equal(x, y) for x, y in zip(a.chosen, c.chosen))


def test_choice_depends_only_on_counts_not_on_how_images_are_grouped():
    # The engine may compute per-image rows in any worker: rows(i) only reads the global result.
    counts = np.random.default_rng(1).integers(0, 30, (50, 4))
    result = balance(counts, (1, 3, 1, 2), 3)
    forward = [[o.tolist() for o in result.ordinals(i)] for i in range(50)]
    backward = [[o.tolist() for o in result.ordinals(i)] for i in reversed(range(50))][::-1]
    assert forward == backward
    assert sum(len(o[c]) for o in forward for c in range(4)) == result.targets.sum()


def test_duplicates_fill_short_classes_from_the_base():
    counts = np.array([[10, 5, 20, 4], [10, 5, 0, 4]])  # pos 20, neg 10, part 20, landmark 8
    result = balance(counts, (1, 3, 1, 2), seed=0, allow_duplicates=True, base=0)
    assert result.targets.tolist() == [20, 60, 20, 40]
    assert result.duplicates.tolist() == [0, 50, 0, 32]
    neg = result.chosen[1]
    assert set(np.unique(neg).tolist()) == set(range(10)) and neg.shape == (60,)
    # Rows of a duplicated sample are repeated in the image's selection.
    cls = np.array([1] * 10 + [0] * 5 + [-1] * 20 + [-2] * 4, np.int8)
    rows = result.rows(0, cls)
    assert rows.shape[0] == sum(len(o) for o in result.ordinals(0))
    assert np.array_equal(rows, np.sort(rows))


def test_without_duplicates_the_scarcest_class_sets_the_total():
    counts = np.array([[100, 30, 100, 100]])
    result = balance(counts, (1, 3, 1, 2), seed=0)
    assert result.targets.tolist() == [10, 30, 10, 20]


def test_zero_share_and_missing_class():
    counts = np.array([[10, 30, 10, 0]])
    assert balance(counts, (1, 3, 1, 2), 0).targets.tolist() == [0, 0, 0, 0]  # no landmarks at all
    assert balance(counts, (1, 3, 1, 0), 0).targets.tolist() == [10, 30, 10, 0]
    assert balance(counts, (1, 3, 1, 2), 0, allow_duplicates=True).targets.tolist() == [0, 0, 0, 0]


def test_no_images():
    result = balance(np.zeros((0, 4), np.int64), (1, 3, 1, 2), 0)
    assert result.targets.tolist() == [0, 0, 0, 0] and result.offsets.shape == (1, 4)


def test_bad_inputs():
    with pytest.raises(ValueError, match="ratio"):
        class_targets(np.array([1, 1, 1, 1]), (0, 0, 0, 0), False)
    with pytest.raises(ValueError, match="non-negative"):
        balance(np.array([[-1, 0, 0, 0]]), (1, 3, 1, 2), 0)
    with pytest.raises(ValueError, match="plan differs"):
        kept_rows(np.array([1], np.int8), [np.array([3]), np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)])


@settings(max_examples=80, deadline=None)
@given(counts=st.lists(st.tuples(*[st.integers(0, 40)] * 4), min_size=0, max_size=30),
       ratio=st.tuples(*[st.integers(0, 4)] * 4).filter(lambda r: sum(r) > 0),
       seed=st.integers(0, 2**31), duplicates=st.booleans())
def test_ratio_is_always_exact(counts, ratio, seed, duplicates):
    counts = np.array(counts, np.int64).reshape(-1, 4)
    base = next(c for c in range(4) if ratio[c] > 0)
    result = balance(counts, ratio, seed, duplicates, base)
    unit = result.targets.sum() // sum(ratio)
    assert result.targets.tolist() == [r * unit for r in ratio]
    available = counts.sum(0)
    if not duplicates:
        assert (result.targets <= available).all()
    for c, chosen in enumerate(result.chosen):
        assert chosen.shape == (result.targets[c],)
        assert (chosen >= 0).all() and (chosen < max(available[c], 1)).all()
        assert np.array_equal(chosen, np.sort(chosen))
        assert np.unique(chosen).shape[0] == min(result.targets[c], available[c])
    for i in range(counts.shape[0]):
        cls = np.repeat(np.array(CLASS_ORDER, np.int8), counts[i])
        rows = result.rows(i, cls)
        assert rows.shape[0] == sum(len(o) for o in result.ordinals(i))


@pytest.mark.parametrize("mode, duplicates", [("exact", False), ("exact", True), ("oversample", True),
                                              ("keep", False), ("aittsmd", False)])
@pytest.mark.parametrize("pack_slice", [None, 7])
def test_packed_ordinals_are_every_images_ordinals_in_one_array(mode, duplicates, pack_slice, monkeypatch):
    # Zero-count images and classes included: they must neither shift nor steal a neighbour's run;
    # a slice of 7 ordinals cuts runs of one image and class across steps.
    if pack_slice is not None:
        monkeypatch.setattr("samplegen.mtcnn.balance.PACK_SLICE", pack_slice)
    counts = np.random.default_rng(4).integers(0, 6, (400, 4)) * np.random.default_rng(5).integers(0, 2, (400, 4))
    result = balance(counts, (1, 3, 1, 2), 7, duplicates, mode=mode, per_unit=40)
    values, ends = result.packed_ordinals()
    assert values.dtype == np.int32 and ends.shape == (400, 4) and ends[-1, 3] == values.shape[0]
    start = 0
    for i in range(400):
        runs = np.split(values[start:ends[i, 3]], ends[i, :3] - start)
        assert [r.tolist() for r in runs] == [o.tolist() for o in result.ordinals(i)], i
        start = ends[i, 3]
    assert values.shape[0] == result.targets.sum()
