import pytest

from samplegen.engine.task import plan_shards


def test_shards_are_sorted_fixed_size_groups():
    tasks = plan_shards(["c", "a", "e", "b", "d"], 2, key=str)
    assert [t.index for t in tasks] == [0, 1, 2]
    assert [t.items for t in tasks] == [("a", "b"), ("c", "d"), ("e",)]


def test_input_order_does_not_change_the_plan():
    keys = [f"img{i:03d}" for i in range(37)]
    assert plan_shards(keys, 5, str) == plan_shards(list(reversed(keys)), 5, str)


def test_empty_input_gives_no_task():
    assert plan_shards([], 10, str) == []


def test_duplicate_keys_are_refused():
    with pytest.raises(ValueError, match="duplicate key"):
        plan_shards(["a", "b", "a"], 2, str)
