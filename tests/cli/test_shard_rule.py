"""The shard plan rule (`RunOptions.shard`): a function of the image count and the fingerprinted
configuration only, never of the worker count; today's 100-image groups from 1,600 images up."""
from __future__ import annotations

import pytest

from samplegen.errors import ConfigError
from samplegen.pipelines.options import MIN_SHARDS, RunOptions

PRESET = "mtcnn/pnet.yaml"


def plan(n: int, options: RunOptions, environ: dict | None = None):
    resolved = options.resolve(PRESET) if environ is None else RunOptions(
        **{**options.__dict__, "environ": environ}).resolve(PRESET)
    items = [f"{i:05d}" for i in range(n)]
    tasks, engine, resolved = options.shard(items, resolved.engine(), resolved, key=lambda item: item)
    assert [item for task in tasks for item in task.items] == items  # every image once, in key order
    return [len(task.items) for task in tasks], engine.shard_size, resolved.decisive().get("shards")


def test_default_keeps_100_image_groups_from_16_x_100_images():
    assert MIN_SHARDS == 16
    assert plan(1600, RunOptions(environ={})) == ([100] * 16, 100, None)
    assert plan(2550, RunOptions(environ={})) == ([100] * 25 + [50], 100, None)


def test_default_below_16_x_100_images_gives_16_balanced_shards():
    sizes, largest, shards = plan(1599, RunOptions(environ={}))
    assert len(sizes) == 16 and set(sizes) == {99, 100} and (largest, shards) == (100, 16)
    assert plan(30, RunOptions(environ={}))[0] == [1, 2, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 2]
    assert plan(5, RunOptions(environ={})) == ([1] * 5, 1, 5)  # one image per shard at most 16
    assert plan(0, RunOptions(environ={})) == ([], 100, None)


def test_workers_never_change_the_plan():
    for workers in (1, 2, 64):
        assert plan(300, RunOptions(workers=workers, environ={})) == plan(300, RunOptions(environ={}))


def test_an_explicit_shard_size_is_exact_wherever_it_comes_from():
    assert plan(30, RunOptions(shard_size=8, environ={})) == ([8, 8, 8, 6], 8, None)
    assert plan(30, RunOptions(), environ={"SAMPLEGEN_SHARD_SIZE": "100"}) == ([30], 100, None)


def test_shards_option():
    assert plan(10, RunOptions(shards=3, environ={})) == ([3, 3, 4], 4, 3)
    assert plan(2, RunOptions(shards=5, environ={})) == ([1, 1], 1, 2)
    with pytest.raises(ConfigError, match="not both"):
        RunOptions(shards=2, shard_size=3)
    with pytest.raises(ConfigError, match=">= 1"):
        RunOptions(shards=0)
