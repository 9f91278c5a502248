"""The run loop: determinism across worker counts, resume after a crash, refusal rules."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from samplegen.engine.manifest import RunDescription
from samplegen.engine.task import plan_shards
from samplegen.engine.run import EngineSettings, execute
from samplegen.errors import ConfigError, RunError
from tests.engine.jobs import RandomBytesJob

KEYS = [f"img{i:03d}" for i in range(23)]


def describe(seed: int = 7, planned: int = 5, config: dict | None = None) -> RunDescription:
    return RunDescription(command="test", version="0", config=config or {"a": 1}, config_sources={},
                          seed=seed, layout="wds", shard_size=5,
                          inputs=({"role": "annotations", "path": "x", "sha256": "00"},),
                          planned_shards=planned)


def run(out: Path, workers: int = 1, job_kwargs: dict | None = None, **settings):
    tasks = plan_shards(KEYS, 5, str)
    job = RandomBytesJob(str(out), 7, **(job_kwargs or {}))
    return execute(job, tasks, describe(planned=len(tasks)), EngineSettings(out, workers=workers, **settings))


def folder_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def test_same_bytes_for_one_and_two_workers(tmp_path):
    one = run(tmp_path / "w1", workers=1)
    two = run(tmp_path / "w2", workers=2)
    assert folder_bytes(tmp_path / "w1") == folder_bytes(tmp_path / "w2")
    assert one.manifest["totals"]["shards"] == 5 and one.manifest["complete"]
    assert one.manifest == two.manifest


def test_manifest_lists_every_shard_with_hash(tmp_path):
    import hashlib

    outcome = run(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == outcome.manifest
    for shard in manifest["shards"]:
        for f in shard["files"]:
            data = (tmp_path / f["name"]).read_bytes()
            assert len(data) == f["bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"]
    assert sum(s["images"] for s in manifest["shards"]) == len(KEYS)


def test_crash_then_resume_gives_identical_bytes(tmp_path):
    reference = tmp_path / "ref"
    run(reference)
    crashed = tmp_path / "crashed"
    # A worker dying abruptly in shard 3 (as under kill -9) breaks the pool.
    with pytest.raises(Exception):
        run(crashed, workers=2, job_kwargs={"crash_at": 3})
    partial = json.loads((crashed / "manifest.json").read_text())
    assert not partial["complete"]
    outcome = run(crashed, workers=2, resume=True)
    assert outcome.resumed_shards == len(partial["shards"])
    assert folder_bytes(crashed) == folder_bytes(reference)


def test_existing_run_is_refused_without_resume_or_overwrite(tmp_path):
    run(tmp_path)
    with pytest.raises(ConfigError, match="--resume"):
        run(tmp_path)
    assert run(tmp_path, overwrite=True).resumed_shards == 0
    assert run(tmp_path, resume=True).resumed_shards == 5


def test_resume_with_changed_configuration_is_refused(tmp_path):
    tasks = plan_shards(KEYS, 5, str)
    job = RandomBytesJob(str(tmp_path), 7)
    execute(job, tasks, describe(), EngineSettings(tmp_path))
    with pytest.raises(ConfigError, match="config.a"):
        execute(job, tasks, describe(config={"a": 2}), EngineSettings(tmp_path, resume=True))


def test_resume_redoes_a_shard_whose_file_was_truncated(tmp_path):
    run(tmp_path)
    reference = folder_bytes(tmp_path)
    victim = tmp_path / "part-000002.tar"
    victim.write_bytes(victim.read_bytes()[:100])
    outcome = run(tmp_path, resume=True)
    assert outcome.resumed_shards == 4
    assert folder_bytes(tmp_path) == reference


def test_missing_images_are_counted_and_fail_above_max_errors(tmp_path):
    missing = ("img004", "img017")
    with pytest.raises(RunError, match="more than --max-errors 1"):
        run(tmp_path / "strict", job_kwargs={"missing": missing}, max_errors=1)
    outcome = run(tmp_path / "tolerant", job_kwargs={"missing": missing}, max_errors=2)
    assert [s["image"] for s in outcome.manifest["skipped_images"]] == list(missing)
    assert outcome.manifest["totals"]["skipped_images"] == 2


def test_no_temporary_files_left(tmp_path):
    run(tmp_path, workers=2)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
