"""A small real job for engine tests: each item is (key, payload); writes tar shards."""
from __future__ import annotations

import json
import os
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

    `crash_after` makes the process exit abruptly (os._exit) when shard index `crash_after` starts,
    which is what a kill looks like to the engine.
    """

    out_dir: str
    seed: int
    missing: tuple[str, ...] = ()
    crash_at: int = -1

    def run_shard(self, task: ShardTask) -> ShardResult:
        if task.index == self.crash_at:
            os._exit(9)
        writer = TarShardWriter(Path(self.out_dir), shard_name("part", task.index, ".tar"))
        skipped, count = [], 0
        for key in task.items:
            if key in self.missing:
                skipped.append((key, "missing"))
                continue
            rng = rng_for(self.seed, key)
            for j in range(int(rng.integers(1, 4))):
                payload = rng.integers(0, 256, size=int(rng.integers(1, 900)), dtype=np.uint8)
                writer.add(f"{key}_{j}", {"bin": payload.tobytes(),
                                         "json": json.dumps({"key": key, "j": j}).encode()})
                count += 1
        return ShardResult(task.index, tuple(writer.commit()), count, {"samples": count}, len(task.items),
                           tuple(skipped))

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        return []
