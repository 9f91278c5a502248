"""The run loop: determinism across worker counts, resume after a crash, refusal rules."""
from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from samplegen.engine.manifest import RunDescription, read_manifest
from samplegen.engine.task import plan_shards
from samplegen.engine.run import EngineSettings, execute
from samplegen.errors import ConfigError, Interrupted, RunError
from samplegen.writers.base import write_bytes_atomic
from tests.engine.jobs import RandomBytesJob

KEYS = [f"img{i:03d}" for i in range(23)]


def describe(seed: int = 7, planned: int = 5, config: dict | None = None) -> RunDescription:
    return RunDescription(command="test", version="0", config=config or {"a": 1}, config_sources={},
                          seed=seed, layout="wds", shard_size=5,
                          inputs=({"role": "annotations", "path": "x", "sha256": "00"},),
                          planned_shards=planned)


def run(out: Path, workers: int = 1, job_kwargs: dict | None = None, keys: list[str] = KEYS, **settings):
    tasks = plan_shards(keys, 5, str)
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
    # A worker dying abruptly in shard 3 (as under kill -9) breaks the pool: one line, exit 1.
    with pytest.raises(RunError, match=r"a worker died while writing .*shards? .*3.*rerun with --resume"):
        run(crashed, workers=2, job_kwargs={"crash_at": 3})
    assert not [p.name for p in crashed.iterdir() if p.name.startswith(".")], "temporary files left"
    partial = read_manifest(crashed)
    assert not partial["complete"]
    outcome = run(crashed, workers=2, resume=True)
    assert outcome.resumed_shards == len(partial["shards"])
    assert folder_bytes(crashed) == folder_bytes(reference)


def test_the_same_finished_run_again_is_already_complete(tmp_path, capsys):
    first = run(tmp_path)
    before = folder_bytes(tmp_path)
    again = run(tmp_path)
    assert again.resumed_shards == 5 and again.manifest == first.manifest
    samples = first.manifest["totals"]["samples"]
    assert f"already complete: {samples} samples; --overwrite to redo" in capsys.readouterr().err
    assert folder_bytes(tmp_path) == before
    assert run(tmp_path, overwrite=True).resumed_shards == 0
    assert run(tmp_path, resume=True).resumed_shards == 5


def test_another_run_in_a_used_folder_is_refused(tmp_path):
    run(tmp_path)
    tasks = plan_shards(KEYS, 5, str)
    with pytest.raises(ConfigError, match=r"another configuration \(seed\).*--overwrite"):
        execute(RandomBytesJob(str(tmp_path), 8), tasks, describe(seed=8), EngineSettings(tmp_path))


def test_an_unfinished_run_is_refused_without_resume(tmp_path):
    with pytest.raises(Interrupted):
        run(tmp_path, job_kwargs={"interrupt_at": 2})
    with pytest.raises(ConfigError, match="unfinished run.*--resume"):
        run(tmp_path)


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


def test_no_temporary_or_lock_files_left(tmp_path):
    run(tmp_path, workers=2)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_ctrl_c_keeps_completed_shards_and_removes_the_rest(tmp_path):
    reference = tmp_path / "ref"
    run(reference)
    out = tmp_path / "out"
    with pytest.raises(Interrupted, match="interrupted; completed shards are kept, rerun with --resume") as info:
        run(out, job_kwargs={"interrupt_at": 3})
    assert info.value.exit_code == 130
    partial = read_manifest(out)
    assert [s["index"] for s in partial["shards"]] == [0, 1, 2]
    assert sorted(p.name for p in out.iterdir()) == ["_shards", "manifest.json"] + [f"part-00000{i}.tar" for i in range(3)]
    assert run(out, resume=True).resumed_shards == 3
    assert folder_bytes(out) == folder_bytes(reference)


def test_an_incomplete_manifest_records_mtimes_a_complete_one_does_not(tmp_path):
    with pytest.raises(Interrupted):
        run(tmp_path, job_kwargs={"interrupt_at": 2})
    partial = read_manifest(tmp_path)
    for shard in partial["shards"]:
        for f in shard["files"]:
            assert f["mtime_ns"] == (tmp_path / f["name"]).stat().st_mtime_ns
    final = run(tmp_path, resume=True).manifest
    assert all("mtime_ns" not in f for s in final["shards"] for f in s["files"])


@dataclass(frozen=True)
class FailingFinalizeJob(RandomBytesJob):
    """Merges two list files at the end, appends to the user's log, then the disk fills."""

    def finalize(self, out_dir: Path, shards) -> list:
        write_bytes_atomic(out_dir / "pos_5.txt", b"merged\n")
        write_bytes_atomic(out_dir / "neg_5.txt", b"merged\n")
        with open(out_dir / "run.log", "a") as log:
            log.write("finalizing\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_finalize_leaves_no_half_merged_files(tmp_path):
    (tmp_path / "run.log").write_text("the user's log\n")
    tasks = plan_shards(KEYS, 5, str)
    with pytest.raises(OSError, match="No space left on device") as info:
        execute(FailingFinalizeJob(str(tmp_path), 7), tasks, describe(planned=len(tasks)), EngineSettings(tmp_path))
    assert info.value.filename == str(tmp_path)
    assert not (tmp_path / "pos_5.txt").exists() and not (tmp_path / "neg_5.txt").exists()
    assert (tmp_path / "run.log").read_text() == "the user's log\nfinalizing\n"
    assert json.loads((tmp_path / "manifest.json").read_text())["complete"] is False
