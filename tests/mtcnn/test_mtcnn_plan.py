"""samplegen.mtcnn.crop_plan: CropPlan construction, concatenation, selection, counts."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.mtcnn.labels import LANDMARK, NEG, PART, POS
from samplegen.mtcnn.crop_plan import CropPlan, class_counts, concat_plans, empty_plan, make_plan, select

FIELDS = {"cls": (np.int8, ()), "crop": (np.float32, (4,)), "roi": (np.float32, (4,)),
          "landmark": (np.float32, (10,)), "angle": (np.float32, ()), "mirror": (np.bool_, ()),
          "iou": (np.float32, ()), "gt": (np.int32, ()), "center": (np.float32, (2,))}


def _check(plan: CropPlan, k: int) -> None:
    for name, (dtype, tail) in FIELDS.items():
        value = getattr(plan, name)
        assert value.dtype == dtype, name
        assert value.shape == (k,) + tail, name


def test_empty_plan_has_every_field():
    plan = empty_plan()
    _check(plan, 0)
    assert len(plan) == 0
    assert class_counts(plan).tolist() == [0, 0, 0, 0]


def test_make_plan_defaults_and_broadcast():
    plan = make_plan(NEG, np.array([[0, 0, 12, 12], [5, 5, 17, 17]]))
    _check(plan, 2)
    assert plan.cls.tolist() == [NEG, NEG]
    assert plan.gt.tolist() == [-1, -1]
    assert not plan.roi.any() and not plan.landmark.any() and not plan.mirror.any()


def test_concat_and_select_keep_rows_aligned():
    a = make_plan(np.array([POS, PART]), np.array([[0, 0, 10, 10], [1, 1, 11, 11]]), gt=np.array([0, 1]))
    b = make_plan(LANDMARK, np.array([[2, 2, 12, 12]]), angle=5.0, mirror=True, center=np.array([[7, 7]]))
    plan = concat_plans([a, empty_plan(), b])
    _check(plan, 3)
    assert plan.cls.tolist() == [POS, PART, LANDMARK]
    assert plan.gt.tolist() == [0, 1, -1]
    assert class_counts(plan).tolist() == [1, 0, 1, 1]
    picked = select(plan, np.array([2, 0, 0]))
    _check(picked, 3)
    assert picked.cls.tolist() == [LANDMARK, POS, POS]
    assert picked.angle.tolist() == [5.0, 0.0, 0.0] and picked.mirror.tolist() == [True, False, False]
    masked = select(plan, np.array([False, True, False]))
    assert masked.crop.tolist() == [[1, 1, 11, 11]]


def test_concat_of_nothing_is_empty():
    _check(concat_plans([]), 0)


def test_plan_is_frozen():
    with pytest.raises(AttributeError):
        empty_plan().cls = np.zeros(0, np.int8)  # type: ignore[misc]
