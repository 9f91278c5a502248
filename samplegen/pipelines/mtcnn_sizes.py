"""``--size 12,24,48``: one plan, every chosen crop cut at each size from one decode.

What a multi-size run means (issue 15). The three presets differ only in ``size`` and in
``neg_min_size`` (12 / 24 / 48: random negatives at least as large as the crop). Pos, part and
landmark crops are the same P-Net-style sampling at every size, and R-Net / O-Net *hard*
examples come from the previous stage's detections, which a run that has not trained that
stage yet cannot have. So ``--size 12,24,48`` is the P-Net-style sampling, planned and balanced
once, cut at the three sizes:

1. Each size's configuration is resolved as for a single-size run; a ``neg_min_size`` the user
   did not set becomes the smallest size's (12), recorded as a command-line value (the run is
   the same as ``--size 24 --set neg_min_size=12``). The resolved configurations must then be
   equal but for ``size``, else the run is refused naming the keys that differ (a future preset
   difference cannot silently share a plan). Detections and mining (``--detections``,
   ``--pnet``) are refused: hard examples belong to one stage.
2. The smallest size plans and balances (`plan_run`), once; the plan does not depend on
   ``size``, so every size keeps the same samples.
3. The smallest size's run cuts each image once per shard and resizes every crop to all sizes
   (`samplegen.mtcnn.cut.cut_crops_sizes`); the larger sizes' shard files are committed into a
   staging folder beside the outputs (``OUT/.staging/<stage>-<fingerprint>``) with a result
   record each (`write_staged_result`).
4. Each larger size then runs in its own folder (``OUT/rnet``, ``OUT/onet``) through the
   engine as usual, with `StagedMtcnnJob`: a shard whose staged files are there is moved into
   place, one that is not (a resumed run, a staging folder removed) is cut again. Every folder,
   manifest included, is then byte-identical to the single-size run of its configuration.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from samplegen.config.resolve import COMMAND_LINE, Resolved
from samplegen.engine.task import ShardResult, ShardTask
from samplegen.errors import ConfigError
from samplegen.mtcnn.config import MtcnnConfig
from samplegen.pipelines.mtcnn_shards import MtcnnJob, staged_result_path
from samplegen.writers.base import ShardFile

STAGING = ".staging"
SIZES = (12, 24, 48)


def parse_sizes(size: int | str | Sequence[int]) -> list[int]:
    """``12``, ``"24"``, ``"12,24,48"`` or ``[12, 48]`` -> sorted distinct sizes, each of `SIZES`."""
    if isinstance(size, str):
        try:
            values = [int(v) for v in size.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(f"size: expected 12, 24, 48 or a list like 12,24,48, got {size!r}") from None
    elif isinstance(size, int):
        values = [size]
    else:
        values = [int(v) for v in size]
    if not values or any(v not in SIZES for v in values) or len(set(values)) != len(values):
        raise ConfigError(f"size: expected distinct values of {list(SIZES)}, got {size!r}")
    return sorted(values)


def share_negative_size(resolved: list[Resolved]) -> list[Resolved]:
    """Rule 1 of the module docstring: every size's ``neg_min_size`` the user left to its preset
    becomes the smallest size's value (a command-line value)."""
    smallest = resolved[0].layered.values["neg_min_size"]
    out = [resolved[0]]
    for r in resolved[1:]:
        if r.sources.get("neg_min_size", "").startswith("preset:") and r.layered.values["neg_min_size"] != smallest:
            r = Resolved(r.layered.merge({"neg_min_size": smallest}, COMMAND_LINE))
        out.append(r)
    return out


def check_shared_plan(configs: list[MtcnnConfig]) -> None:
    """Refuse sizes whose configurations differ in more than ``size`` (they cannot share a plan)."""
    first = dataclasses.asdict(configs[0])
    for cfg in configs[1:]:
        other = dataclasses.asdict(dataclasses.replace(cfg, size=configs[0].size))
        differ = sorted(k for k in first if first[k] != other[k])
        if differ:
            raise ConfigError(f"--size {configs[0].size},{cfg.size}: the sizes' configurations differ in "
                              f"{', '.join(differ)}, so they cannot share one plan; run each size on its own")


def staging_folder(parent: Path, prefix: str, fingerprint: str) -> Path:
    """Where the smallest size's workers commit a larger size's shards (module docstring, 3)."""
    return Path(parent) / STAGING / f"{prefix}-{fingerprint[:16]}"


@dataclass(frozen=True)
class StagedMtcnnJob:
    """`job` (a larger size's own run), taking the shards already cut into `staging` when they
    are there (module docstring, 4); `finalize` is the job's."""

    job: MtcnnJob
    staging: str

    def run_shard(self, task: ShardTask) -> ShardResult:
        record = staged_result_path(Path(self.staging), self.job.prefix, task.index)
        try:
            result = ShardResult.from_json(json.loads(record.read_text()))
        except (OSError, ValueError, KeyError):
            return self.job.run_shard(task)
        sources = [Path(self.staging) / f.name for f in result.files]
        if result.index != task.index or not all(p.exists() for p in sources):
            return self.job.run_shard(task)
        for path in sources:
            target = Path(self.job.out_dir) / path.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(path, target)
        record.unlink()
        return result

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        return self.job.finalize(out_dir, shards)


def remove_staging(parent: Path, staging: Path | None = None) -> None:
    """Remove one staging folder (or, without `staging`, the whole ``.staging`` folder once empty)."""
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    root = Path(parent) / STAGING
    try:
        root.rmdir()
    except OSError:
        pass
