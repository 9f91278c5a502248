"""The run loop with an object-storage output (S3 on a local moto server) and with ``file://`` URLs:
the bytes of a local run, resume after a crash or Ctrl-C, stamps (ETag), the folder rules, the
spool, finalize in a spool folder, verify. Skipped without moto/s3fs."""
from __future__ import annotations

import errno
import json
import multiprocessing.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine import s3

if not s3.AVAILABLE:
    pytest.skip(s3.SKIP_REASON, allow_module_level=True)

from samplegen.engine.manifest import read_manifest  # noqa: E402
from samplegen.engine.run import EngineSettings, execute  # noqa: E402
from samplegen.engine.storage import open_output  # noqa: E402
from samplegen.engine.task import plan_shards  # noqa: E402
from samplegen.engine.verify import verify_output  # noqa: E402
from samplegen.errors import ConfigError, Interrupted, RunError  # noqa: E402
from samplegen.writers.base import ShardFile, write_bytes_atomic  # noqa: E402
from tests.engine.jobs import RandomBytesJob  # noqa: E402
from tests.engine.test_run import KEYS, describe, folder_bytes  # noqa: E402


@pytest.fixture(scope="module")
def server():
    return s3.S3Server.start()


@pytest.fixture()
def spool_tmp(tmp_path, monkeypatch):
    """The system temporary folder of this test (where the spool root goes), to check it is left empty."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    # multiprocessing keeps the first temporary folder it is asked for, and the fork server's
    # socket goes there: under this deep test folder its path would be too long for AF_UNIX.
    multiprocessing.util.get_temp_dir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def spools(folder: Path) -> list[str]:
    """samplegen's spool folders in `folder` (multiprocessing keeps its own there too)."""
    return [p.name for p in folder.iterdir() if p.name.startswith("samplegen-spool-")]


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path, spool_tmp):
    """An output location of each kind, and how to read what it holds."""
    if request.param == "local":
        return Place(tmp_path / "out", None)
    server = request.getfixturevalue("server")
    return Place(f"s3://{server.bucket()}/runs/out", server)


@dataclass
class Place:
    location: Path | str
    server: s3.S3Server | None

    def files(self) -> dict[str, bytes]:
        if self.server is None:
            return s3.local_files(self.location)
        return self.server.objects(self.location)

    def top(self) -> list[str]:
        return sorted({name.split("/")[0] for name in self.files()})

    def write(self, name: str, data: bytes) -> None:
        if self.server is None:
            self.location.mkdir(parents=True, exist_ok=True)
            (self.location / name).write_bytes(data)
        else:
            self.server.put(f"{self.location}/{name}", data)

    def read(self, name: str) -> bytes:
        return self.files()[name]

    def delete(self, name: str) -> None:
        if self.server is None:
            (self.location / name).unlink()
        else:
            self.server.delete(f"{self.location}/{name}")


def run(location, workers: int = 1, job=None, keys=KEYS, **settings):
    tasks = plan_shards(keys, 5, str)
    job = job or RandomBytesJob(str(location), 7)
    return execute(job, tasks, describe(planned=len(tasks)), EngineSettings(location, workers=workers, **settings))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, bytes]:
    """The files of the uninterrupted local run."""
    out = tmp_path_factory.mktemp("reference")
    run(out)
    return folder_bytes(out)


def test_two_workers_give_the_bytes_of_one_local_worker(where, reference, spool_tmp):
    one = run(where.location, workers=2)
    assert where.files() == reference and one.manifest["complete"]
    assert json.loads(where.read("manifest.json")) == one.manifest
    assert spools(spool_tmp) == [], "the spool root is removed"


def test_a_crashed_worker_then_resume_gives_identical_bytes(where, reference):
    with pytest.raises(RunError, match=r"a worker died while writing .*shards? .*3.*rerun with --resume"):
        run(where.location, workers=2, job=RandomBytesJob(str(where.location), 7, crash_at=3))
    partial = read_manifest(where.location)
    listed = {f["name"] for s in partial["shards"] for f in s["files"]}
    assert not partial["complete"]
    assert {n for n in where.top() if n.startswith("part-")} == listed, "only listed shards are left"
    outcome = run(where.location, workers=2, resume=True)
    assert outcome.resumed_shards == len(partial["shards"])
    assert where.files() == reference


def test_ctrl_c_keeps_completed_shards_with_their_stamps(where, reference):
    with pytest.raises(Interrupted, match="interrupted; completed shards are kept"):
        run(where.location, job=RandomBytesJob(str(where.location), 7, interrupt_at=3))
    assert where.top() == ["_shards", "manifest.json"] + [f"part-00000{i}.tar" for i in range(3)]
    partial = read_manifest(where.location)
    folder = open_output(where.location)
    key = "etag" if where.server else "mtime_ns"
    for shard in partial["shards"]:
        for f in shard["files"]:
            assert f[key] == folder.stamp(f["name"])[1]
    final = run(where.location, resume=True)
    assert final.resumed_shards == 3
    assert all(key not in f for s in final.manifest["shards"] for f in s["files"])
    assert where.files() == reference


def test_a_changed_object_of_the_same_size_is_redone_without_verify(where, reference, capsys):
    """The stamp check: a rewrite gives a new ETag (mtime), so the shard is hashed and redone."""
    with pytest.raises(Interrupted):
        run(where.location, job=RandomBytesJob(str(where.location), 7, interrupt_at=4))
    name = "part-000000.tar"
    data = bytearray(where.read(name))
    data[len(data) // 2] ^= 1
    where.write(name, bytes(data))
    # recheck_last=0 in object storage: only the stamp tells the change (locally the last 4 are re-hashed)
    outcome = run(where.location, resume=True)
    assert outcome.resumed_shards == 3
    assert "1 shards of" in capsys.readouterr().err
    assert where.files() == reference


def test_refusals_name_the_location(where):
    run(where.location)
    tasks = plan_shards(KEYS, 5, str)
    with pytest.raises(ConfigError, match=rf"{where.location} already holds a samplegen run with another "
                                          r"configuration \(seed\)"):
        execute(RandomBytesJob(str(where.location), 8), tasks, describe(seed=8), EngineSettings(where.location))
    again = run(where.location)
    assert again.resumed_shards == 5


def test_strays_without_a_manifest_are_refused_and_removed_by_resume(where, reference):
    where.write("part-000042.tar", b"someone's")
    with pytest.raises(ConfigError, match=r"part-000042\.tar.*no manifest\.json"):
        run(where.location, overwrite=True)
    assert where.files() == {"part-000042.tar": b"someone's"}
    where.delete("part-000042.tar")
    with pytest.raises(Interrupted):
        run(where.location, job=RandomBytesJob(str(where.location), 7, interrupt_at=2))
    where.write("part-000042.tar", b"stray")
    run(where.location, resume=True)
    assert where.files() == reference


@pytest.mark.parametrize("hostile", ["../victim", "notes.csv", "sub/part-000000.tar"])
def test_a_hostile_manifest_is_refused_and_nothing_touched(where, hostile):
    run(where.location)
    where.write("notes.csv", b"mine")
    manifest = json.loads(where.read("manifest.json"))
    manifest["shards"][1]["files"][0]["name"] = hostile
    where.write("manifest.json", json.dumps(manifest).encode())
    before = where.files()
    for flags in ({"overwrite": True}, {"resume": True}):
        with pytest.raises(ConfigError, match="not a samplegen output file"):
            run(where.location, **flags)
    assert where.files() == before


def test_overwrite_removes_only_what_the_manifest_recorded(where, capsys):
    run(where.location, job=MergingJob(str(where.location), 7))
    where.write("merged.bin", b"the user's own file now")
    where.write("part-000042.tar", b"stray")
    with pytest.raises(Interrupted):
        run(where.location, job=MergingJob(str(where.location), 7, interrupt_at=0), overwrite=True)
    assert f"kept {where.location}/merged.bin: it is not the file the manifest recorded" in capsys.readouterr().err
    assert where.top() == ["manifest.json", "merged.bin"]
    assert where.read("merged.bin") == b"the user's own file now"


@dataclass(frozen=True)
class MergingJob(RandomBytesJob):
    """RandomBytesJob whose finalize joins every shard into ``merged.bin`` (it reads the shards)."""

    def finalize(self, out_dir: Path, shards) -> list:
        parts = [(Path(out_dir) / f.name).read_bytes() for s in shards for f in s.files]
        write_bytes_atomic(Path(out_dir) / "merged.bin", b"".join(parts))
        import hashlib

        data = b"".join(parts)
        return [ShardFile("merged.bin", len(data), hashlib.sha256(data).hexdigest())]


@dataclass(frozen=True)
class SummaryJob(RandomBytesJob):
    """A finalize that does not read the shards (``finalize_reads_shards = False``): it checks
    they were not downloaded into its folder, and writes a count."""

    finalize_reads_shards = False

    def finalize(self, out_dir: Path, shards) -> list:
        assert not any(Path(out_dir).iterdir()), "shards downloaded for a finalize that does not read them"
        data = f"{len(shards)} shards\n".encode()
        write_bytes_atomic(Path(out_dir) / "count.txt", data)
        import hashlib

        return [ShardFile("count.txt", len(data), hashlib.sha256(data).hexdigest())]


def test_a_finalize_reading_the_shards_gives_the_local_files(tmp_path, where, spool_tmp):
    local = tmp_path / "merged-local"
    run(local, job=MergingJob(str(local), 7))
    outcome = run(where.location, workers=2, job=MergingJob(str(where.location), 7))
    assert where.files() == folder_bytes(local)
    assert outcome.manifest["totals"]["extra_files"][0]["name"] == "merged.bin"
    assert spools(spool_tmp) == []


def test_a_finalize_that_does_not_read_shards_gets_none(server):
    location = f"s3://{server.bucket()}/count"
    outcome = run(location, job=SummaryJob(location, 7))
    assert server.get(f"{location}/count.txt") == b"5 shards\n"
    assert verify_output(location).ok and outcome.manifest["complete"]


@dataclass(frozen=True)
class FailingFinalizeJob(RandomBytesJob):
    """Writes a merged file, then the disk fills."""

    finalize_reads_shards = False

    def finalize(self, out_dir: Path, shards) -> list:
        write_bytes_atomic(Path(out_dir) / "pos_5.txt", b"merged\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_finalize_leaves_no_merged_object(where):
    where.write("run.log", b"the user's log\n")
    with pytest.raises(OSError, match="No space left on device"):
        run(where.location, job=FailingFinalizeJob(str(where.location), 7))
    assert "pos_5.txt" not in where.top()
    assert where.read("run.log") == b"the user's log\n"
    assert json.loads(where.read("manifest.json"))["complete"] is False


def test_verify_finds_a_damaged_object_and_resume_verify_redoes_it(where, reference):
    run(where.location)
    assert verify_output(where.location).ok
    data = bytearray(where.read("part-000002.tar"))
    data[100] ^= 1
    where.write("part-000002.tar", bytes(data))
    where.write("part-000077.tar", b"stray")
    report = verify_output(where.location)
    assert dict(report.problems) == {"part-000002.tar": "content differs from the manifest (SHA-256)",
                                     "part-000077.tar": "not listed in the manifest (left by another run?)"}
    assert report.as_json()["out"] == str(where.location)
    # a finished run of the same size is "already complete"; --resume --verify hashes and redoes it
    assert run(where.location, resume=True, verify=True).resumed_shards == 4
    assert where.files() == reference and verify_output(where.location).ok


class OpaqueJob:
    """A job without an ``out_dir`` field: it cannot be pointed at a spool folder."""

    def run_shard(self, task):
        raise AssertionError("must not run")

    def finalize(self, out_dir, shards):
        return []


def test_a_job_that_cannot_spool_is_refused_before_any_write(server):
    location = f"s3://{server.bucket()}/x"
    with pytest.raises(ConfigError, match="OpaqueJob writes only to local folders"):
        run(location, job=OpaqueJob())
    assert server.objects(location) == {}


def test_a_missing_bucket_is_one_error_naming_the_url(server):
    with pytest.raises(FileNotFoundError, match="no such bucket") as info:
        run("s3://no-such-bucket-here/run")
    assert info.value.filename == "s3://no-such-bucket-here/run"


def test_an_object_named_like_the_folder_is_refused(server):
    bucket = server.bucket()
    server.put(f"s3://{bucket}/taken", b"a file")
    with pytest.raises(NotADirectoryError) as info:
        run(f"s3://{bucket}/taken")
    assert info.value.filename == f"s3://{bucket}/taken"


def test_a_file_url_is_the_local_path(tmp_path, reference):
    url = (tmp_path / "by-url").as_uri()
    outcome = run(url, workers=2, job=RandomBytesJob(str(tmp_path / "by-url"), 7))
    assert folder_bytes(tmp_path / "by-url") == reference
    assert outcome.manifest == json.loads((tmp_path / "by-url" / "manifest.json").read_text())
    assert verify_output(url).ok
    with pytest.raises(ConfigError, match="absolute path on this machine"):
        open_output("file://otherhost/data")


def test_a_task_on_another_machine_sweeps_dead_spools_and_leaves_no_folder(server, tmp_path, spool_tmp):
    # Another machine of a cluster: the driver's spool root does not exist there. A worker killed
    # mid-shard (its process gone) left its spool; a live worker's spool is in use.
    import subprocess
    import sys

    from samplegen.engine.spool import SpooledJob, node_spool_root
    from samplegen.engine.task import ShardTask

    # Both machines use the same temporary folder (/tmp): the driver's root path stays absent here.
    driver_root = str(spool_tmp / "samplegen-spool-abc123")
    root = node_spool_root(driver_root)
    assert root.parent == spool_tmp and root != Path(driver_root)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = root / f"shard-000003-{gone.pid}-x1"
    live = root / f"shard-000004-{os.getpid()}-x2"
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / "part-000003.tar").write_bytes(b"half a shard")
    url = f"s3://{server.bucket()}/node"
    job = SpooledJob(RandomBytesJob(os.devnull, 7), url, driver_root)
    result = job.run_shard(ShardTask(0, KEYS[:5]))
    assert sorted(server.objects(url)) == [r.name for r in result.files]
    assert not dead.exists() and live.is_dir() and sorted(p.name for p in root.iterdir()) == [live.name]
    assert not Path(driver_root).exists()
    shutil.rmtree(live)
    job.run_shard(ShardTask(1, KEYS[5:10]))
    assert not root.exists(), "the last task removes the emptied folder"
    assert sorted(p.name for p in spool_tmp.iterdir()) == []
