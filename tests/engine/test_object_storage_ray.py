"""``--engine ray`` with an S3 output (local Ray instance with 2 CPUs, moto server): a worker that dies
mid-shard is retried with identical bytes and leaves no spool folder or stray object; a run
interrupted on local workers resumes on Ray; anchors on Ray equal the local run. Skipped without
Ray, moto or s3fs."""
from __future__ import annotations

import multiprocessing.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine import s3

if not s3.AVAILABLE:
    pytest.skip(s3.SKIP_REASON, allow_module_level=True)
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'samplegen[ray]')")

from samplegen.engine.ray_pool import RayPool  # noqa: E402
from samplegen.engine.run import EngineSettings, execute  # noqa: E402
from samplegen.engine.task import ShardTask, plan_shards  # noqa: E402
from samplegen.errors import RunError  # noqa: E402
from tests.cli.helpers import ok, run_inproc, tree_bytes  # noqa: E402
from tests.engine.jobs import RandomBytesJob  # noqa: E402
from tests.engine.test_run import KEYS, describe, folder_bytes  # noqa: E402


@pytest.fixture(scope="module")
def server():
    return s3.S3Server.start()


@pytest.fixture(scope="module")
def local_ray(server):
    # After the S3 environment is set (tests.engine.s3): Ray's workers inherit it.
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@dataclass(frozen=True)
class DiesAfterSpoolingJob(RandomBytesJob):
    """The first attempt at shard 1 writes its shard into the spool folder, then the worker
    process exits abruptly (before the upload): Ray retries it on another worker."""

    marker: str = ""

    def run_shard(self, task: ShardTask):
        result = super().run_shard(task)
        if task.index == 1 and not Path(self.marker).exists():
            Path(self.marker).touch()
            os._exit(9)
        return result


def execute_on(location, pool, job, **settings):
    tasks = plan_shards(KEYS, 5, str)
    return execute(job, tasks, describe(planned=len(tasks)), EngineSettings(location, workers=2, **settings), pool)


@pytest.fixture()
def reference(tmp_path) -> dict[str, bytes]:
    out = tmp_path / "reference"
    execute_on(out, None, RandomBytesJob(str(out), 7))
    return folder_bytes(out)


def test_a_worker_dying_mid_shard_is_retried_with_identical_bytes(tmp_path, server, local_ray, reference,
                                                                  monkeypatch):
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    multiprocessing.util.get_temp_dir()   # kept by multiprocessing before the patch (test_object_storage.spool_tmp)
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    url = f"s3://{server.bucket()}/ray"
    marker = tmp_path / "died"
    with RayPool(None, 2) as pool:
        execute_on(url, pool, DiesAfterSpoolingJob(url, 7, marker=str(marker)))
    assert marker.exists(), "the first attempt did die"
    assert server.objects(url) == reference, "identical bytes, no partial or stray object"
    assert not [p for p in system_tmp.iterdir() if p.name.startswith("samplegen-spool-")], "spool left"


def test_a_run_interrupted_on_local_workers_resumes_on_ray(server, local_ray, reference):
    url = f"s3://{server.bucket()}/mixed"
    with pytest.raises(RunError, match="a worker died"):
        execute_on(url, None, RandomBytesJob(url, 7, crash_at=3))
    with RayPool(None, 2) as pool:
        outcome = execute_on(url, pool, RandomBytesJob(url, 7), resume=True)
    assert outcome.resumed_shards >= 1
    assert server.objects(url) == reference


def test_anchors_on_ray_into_s3_equal_the_local_run(tmp_path, server, local_ray):
    args = ["anchors", "--method", "ssd300", "--with-images", "--shard-size", "1", "--no-progress", "--workers", 2]
    url = f"s3://{server.bucket()}/anchors"
    summary = ok(run_inproc([*args, "--out", url, "--engine", "ray"]))
    ok(run_inproc([*args, "--out", tmp_path / "local"]))
    assert summary["out"] == url
    assert server.objects(url) == tree_bytes(tmp_path / "local")


def test_mtcnn_on_ray_reading_its_inputs_from_s3_equals_the_local_run(tmp_path, server, local_ray):
    """The Ray workers read the image objects themselves (the driver only reads the annotation
    and the headers); the shards are the local run's, the manifest differs only in input paths."""
    import json

    from samplegen import embedded

    bucket = f"s3://{server.bucket()}"
    for name in ("astronaut.jpg", "grace_hopper.jpg", embedded.WIDER.name):
        server.put(f"{bucket}/sample/{name}", (embedded.ROOT / name).read_bytes())
    args = ["mtcnn", "--size", "12", "--format", "wider", "--shard-size", "1", "--no-progress", "--workers", 2]
    ok(run_inproc([*args, "--annotations", embedded.WIDER, "--images", embedded.ROOT, "--out", tmp_path / "local"]))
    ok(run_inproc([*args, "--annotations", f"{bucket}/sample/{embedded.WIDER.name}", "--images", f"{bucket}/sample",
                   "--engine", "ray", "--out", tmp_path / "ray"]))
    local, remote = tree_bytes(tmp_path / "local"), tree_bytes(tmp_path / "ray")
    manifests = [json.loads(files.pop("manifest.json")) for files in (local, remote)]
    assert remote == local
    assert manifests[1]["inputs"][0]["path"] == f"{bucket}/sample/{embedded.WIDER.name}"
    for manifest in manifests:
        manifest["inputs"][0].pop("path")
    assert manifests[0] == manifests[1]
