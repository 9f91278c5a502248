"""Shard records and manifest checkpoints: the manifest is rewritten now and then, not per shard,
and the folder still describes every committed shard at any moment."""
from __future__ import annotations

import json
from functools import partial

import pytest

from samplegen.engine.manifest import read_manifest
from samplegen.engine.shard_records import RECORDS_DIR, CheckpointPolicy
from samplegen.errors import ConfigError, Interrupted
from tests.engine.test_run import folder_bytes, run

NEVER = partial(CheckpointPolicy, min_shards=10**9, seconds=10**9)  # records only, until the end
MANY = [f"k{i:03d}" for i in range(60)]  # 12 shards of 5


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _interrupted_without_checkpoints(tmp_path) -> tuple:
    """(the uninterrupted run's folder, a run stopped at shard 3 that never checkpointed)."""
    reference = tmp_path / "ref"
    run(reference)
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        run(out, job_kwargs={"interrupt_at": 3}, checkpoints=NEVER)
    return reference, out


def test_without_a_checkpoint_the_records_list_what_the_manifest_does_not(tmp_path):
    reference, out = _interrupted_without_checkpoints(tmp_path)
    as_written = json.loads((out / "manifest.json").read_text())
    assert as_written["shards"] == []  # written once, before the first shard
    assert sorted(p.name for p in (out / RECORDS_DIR).iterdir()) == ["000000.json", "000001.json", "000002.json"]
    merged = read_manifest(out)
    assert [s["index"] for s in merged["shards"]] == [0, 1, 2]
    assert all(f["mtime_ns"] == (out / f["name"]).stat().st_mtime_ns for s in merged["shards"] for f in s["files"])
    # Resume keeps the recorded shards; the finished folder is the uninterrupted run's, no records left.
    assert run(out, resume=True, checkpoints=NEVER).resumed_shards == 3
    assert folder_bytes(out) == folder_bytes(reference)
    assert not (out / RECORDS_DIR).exists()


def test_a_checkpoint_removes_the_records_it_lists(tmp_path):
    out = tmp_path / "out"
    every_4 = partial(CheckpointPolicy, min_shards=4, seconds=10**9)
    with pytest.raises(Interrupted):
        run(out, keys=MANY, job_kwargs={"interrupt_at": 6}, checkpoints=every_4)
    as_written = json.loads((out / "manifest.json").read_text())
    assert [s["index"] for s in as_written["shards"]] == [0, 1, 2, 3]
    assert sorted(p.name for p in (out / RECORDS_DIR).iterdir()) == ["000004.json", "000005.json"]
    assert [s["index"] for s in read_manifest(out)["shards"]] == [0, 1, 2, 3, 4, 5]


def test_a_record_of_another_run_is_not_trusted(tmp_path):
    reference, out = _interrupted_without_checkpoints(tmp_path)
    record = out / RECORDS_DIR / "000001.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "fingerprint": "another run"}))
    (out / RECORDS_DIR / "000002.json").write_text("{torn")
    assert [s["index"] for s in read_manifest(out)["shards"]] == [0]
    # Shards 1 and 2 are then unlisted: resume removes and rewrites them, to the same bytes.
    assert run(out, resume=True).resumed_shards == 1
    assert folder_bytes(out) == folder_bytes(reference)


def test_a_records_folder_without_a_manifest_is_refused(tmp_path):
    (tmp_path / RECORDS_DIR).mkdir()
    with pytest.raises(ConfigError, match=f"{RECORDS_DIR}.*no manifest.json"):
        run(tmp_path)
    assert (tmp_path / RECORDS_DIR).is_dir()


def test_overwrite_removes_the_records(tmp_path):
    with pytest.raises(Interrupted):
        run(tmp_path, job_kwargs={"interrupt_at": 3}, checkpoints=NEVER)
    run(tmp_path, overwrite=True)
    assert not (tmp_path / RECORDS_DIR).exists()


def test_checkpoints_cost_a_flat_amount_per_shard():
    """Entries written by all checkpoints of an n-shard run stay within (fraction + 1) n, and the
    records waiting beside the manifest within max(min_shards, listed / fraction)."""
    clock = FakeClock()
    for n in (100, 10_000, 100_000):
        policy = CheckpointPolicy(clock=clock)
        listed, new, written, most_waiting = 0, 0, 0, 0
        for _ in range(n):
            new += 1
            most_waiting = max(most_waiting, new)
            if policy.due(listed, new):
                listed, new = listed + new, 0
                written += listed
                policy.written(0.0)
        assert written <= (policy.fraction + 1) * n
        assert most_waiting <= max(policy.min_shards, n // policy.fraction + 1)


def test_a_slow_run_checkpoints_by_time_but_not_more_than_its_overhead_allows():
    clock = FakeClock()
    policy = CheckpointPolicy(min_shards=10**6, seconds=30.0, max_overhead=0.05, clock=clock)
    clock.now = 29.0
    assert not policy.due(listed=10, new=1)
    clock.now = 30.0
    assert policy.due(listed=10, new=1) and not policy.due(listed=10, new=0)
    policy.written(cost=4.0)  # a huge manifest: 4 s per rewrite -> at most one per 80 s
    clock.now += 79.0
    assert not policy.due(listed=10, new=1)
    clock.now += 1.0
    assert policy.due(listed=10, new=1)


def test_a_hostile_record_is_refused_like_a_hostile_manifest(tmp_path):
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.write_text("years of work")
    with pytest.raises(Interrupted):
        run(out, job_kwargs={"interrupt_at": 3}, checkpoints=NEVER)
    record = out / RECORDS_DIR / "000002.json"
    data = json.loads(record.read_text())
    data["shard"]["files"][0]["name"] = "../victim"
    record.write_text(json.dumps(data))
    for flags in ({"resume": True}, {"overwrite": True}):
        with pytest.raises(ConfigError, match="'../victim', which is not a samplegen output file"):
            run(out, **flags)
    assert victim.read_text() == "years of work"
