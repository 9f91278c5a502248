"""What the engine moves around: shard tasks in, shard results out, and the job between them.

A task is small, picklable data: the shard index and the per-image items it holds. The shard an
image lands in depends only on the sorted keys and the shard size, never on worker count. A job
(`ShardJob`, picklable) turns one task into one committed shard; the engine knows nothing else
about commands, readers or formats.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from samplegen.writers.base import ShardFile


@dataclass(frozen=True)
class ShardTask:
    """Shard `index` (0-based) and its per-image items, in key order."""

    index: int
    items: Sequence[Any]   # a tuple, or a slice of an `OrderedItems`


class OrderedItems(Sequence):
    """Items kept as columns and built one at a time (a run's parent holds a million), already
    in key order: `plan_shards` cuts them into slices without building them. A slice must be a
    view of the same kind, and a pickled slice must carry its own items only."""

    @abc.abstractmethod
    def key(self, index: int) -> str:
        """Item `index`'s key, without building the item."""


@dataclass(frozen=True)
class ShardResult:
    """What one shard produced: its files, samples written, per-kind counts, images, skips.

    `counts` is the command's own breakdown (MTCNN: samples per class; anchors: priors per
    label summed over the shard's images); `samples` is what a reader of the shard iterates over.
    `skipped` lists ``(image, reason)`` of the images that could not be used.
    """

    index: int
    files: tuple[ShardFile, ...]
    samples: int
    counts: Mapping[str, int]
    images: int
    skipped: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict:
        return {
            "index": self.index,
            "files": [f.as_json() for f in self.files],
            "samples": self.samples,
            "counts": dict(self.counts),
            "images": self.images,
            "skipped": [{"image": image, "reason": reason} for image, reason in self.skipped],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ShardResult":
        return cls(
            index=int(data["index"]),
            files=tuple(ShardFile(f["name"], int(f["bytes"]), f["sha256"]) for f in data["files"]),
            samples=int(data["samples"]),
            counts=dict(data["counts"]),
            images=int(data["images"]),
            skipped=tuple((s["image"], s["reason"]) for s in data.get("skipped", [])),
        )


class ShardJob(Protocol):
    """A picklable job: `run_shard` in workers, `finalize` once in the parent at the end."""

    def run_shard(self, task: ShardTask) -> ShardResult:
        ...

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        ...


def plan_shards(items: Sequence[Any], shard_size: int, key: Callable[[Any], str],
                num_shards: int | None = None) -> list[ShardTask]:
    """Sort `items` by `key` and cut them into shards.

    Without `num_shards`: groups of `shard_size` (the last may be shorter). With it: exactly
    ``min(num_shards, len(items))`` shards, shard ``i`` holding the sorted items
    ``[i n // k, (i + 1) n // k)`` (sizes differ by at most one; `shard_size` is then unused).
    An empty input gives no task. Keys must be unique: two items with one key would make the
    order, and so the bytes, depend on the input order.
    """
    if shard_size < 1 or (num_shards is not None and num_shards < 1):
        raise ValueError("shard_size and num_shards must be >= 1")
    if isinstance(items, OrderedItems):
        ordered: Sequence[Any] = items
        keys = (items.key(i) for i in range(len(items)))
        previous = next(keys, None)
        for current in keys:
            if current <= previous:
                raise ValueError(f"duplicate key {current!r}" if current == previous else "items out of key order")
            previous = current
    else:
        ordered = sorted(items, key=key)
        for before, after in zip(ordered, ordered[1:]):
            if key(before) == key(after):
                raise ValueError(f"duplicate key {key(before)!r}")
    n = len(ordered)
    if num_shards is None:
        bounds = list(range(0, n, shard_size)) + [n]
    else:
        count = min(num_shards, n)
        bounds = [i * n // count for i in range(count)] + [n] if count else [n]
    view = isinstance(ordered, OrderedItems)
    return [ShardTask(i, ordered[start:stop] if view else tuple(ordered[start:stop]))
            for i, (start, stop) in enumerate(zip(bounds, bounds[1:]))]
