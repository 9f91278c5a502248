"""Cut sorted work items into fixed-size shard tasks.

A task is small, picklable data: the shard index and the per-image items it holds. The shard an
image lands in depends only on the sorted keys and the shard size, never on worker count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence


@dataclass(frozen=True)
class ShardTask:
    """Shard `index` (0-based) and its per-image items, in key order."""

    index: int
    items: tuple[Any, ...]


def plan_shards(items: Sequence[Any], shard_size: int, key: Callable[[Any], str]) -> list[ShardTask]:
    """Sort `items` by `key` and cut them into groups of `shard_size` (the last may be shorter).

    An empty input gives no task. Keys must be unique: two items with one key would make the
    order, and so the bytes, depend on the input order.
    """
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    ordered = sorted(items, key=key)
    for before, after in zip(ordered, ordered[1:]):
        if key(before) == key(after):
            raise ValueError(f"duplicate key {key(before)!r}")
    return [ShardTask(i, tuple(ordered[start:start + shard_size]))
            for i, start in enumerate(range(0, len(ordered), shard_size))]
