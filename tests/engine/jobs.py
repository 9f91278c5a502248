"""A small real job for engine tests: each item is (key, payload); writes tar shards."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from samplegen.engine.manifest import ShardResult
from samplegen.engine.task import ShardTask
from samplegen.rng import rng_for
from samplegen.writers.base import ShardFile, shard_name
from samplegen.writers.tar import TarShardWriter


@dataclass(frozen=True)
class RandomBytesJob:
    """Per item: 1-3 samples of seeded random bytes; items named in `missing` are skipped.

    `crash_at` makes the process exit abruptly (os._exit) when shard index `crash_at` starts,
    which is what a kill looks like to the engine; `interrupt_at` raises KeyboardInterrupt there
    instead (Ctrl-C in a serial run). `delay` sleeps that many seconds before each shard is
    committed (a slow shard, to signal a run mid-way). `fixed`: one 64-byte sample per item, so
    full shards have equal sizes.
    """

    out_dir: str
    seed: int
    missing: tuple[str, ...] = ()
    crash_at: int = -1
    interrupt_at: int = -1
    delay: float = 0.0
    fixed: bool = False
    prefix = "part"   # its shard names (the engine removes stray names of its own prefix only)

    def run_shard(self, task: ShardTask) -> ShardResult:
        if task.index == self.crash_at:
            os._exit(9)
        if task.index == self.interrupt_at:
            raise KeyboardInterrupt
        writer = TarShardWriter(Path(self.out_dir), shard_name(self.prefix, task.index, ".tar"))
        skipped, count = [], 0
        for key in task.items:
            if key in self.missing:
                skipped.append((key, "missing"))
                continue
            rng = rng_for(self.seed, key)
            for j in range(1 if self.fixed else int(rng.integers(1, 4))):
                size = 64 if self.fixed else int(rng.integers(1, 900))
                payload = rng.integers(0, 256, size=size, dtype=np.uint8)
                writer.add(f"{key}_{j}", {"bin": payload.tobytes(),
                                         "json": json.dumps({"key": key, "j": j}).encode()})
                count += 1
        if self.delay:
            time.sleep(self.delay)
        return ShardResult(task.index, tuple(writer.commit()), count, {"samples": count}, len(task.items),
                           tuple(skipped))

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        return []
