"""RayPool (--engine ray) on a local Ray instance with 2 CPUs: the same bytes as local workers,
retries of a worker that dies, version probe. Skipped when Ray is not installed."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'samplegen[ray]')")

from samplegen.engine.manifest import runtime_versions  # noqa: E402
from samplegen.engine.ray_pool import RayPool, check_versions  # noqa: E402
from samplegen.engine.run import EngineSettings, execute  # noqa: E402
from samplegen.engine.task import ShardTask, plan_shards  # noqa: E402
from samplegen.errors import ConfigError  # noqa: E402
from samplegen.writers.base import shard_name  # noqa: E402
from samplegen.writers.tar import TarShardWriter  # noqa: E402
from tests.engine.jobs import RandomBytesJob  # noqa: E402
from tests.engine.test_run import KEYS, describe, folder_bytes  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@dataclass(frozen=True)
class DiesOnceJob:
    """RandomBytesJob whose worker process exits abruptly the first time it writes shard 1,
    half-way through: its temporary file is left behind, as after a real crash."""

    inner: RandomBytesJob
    marker: str

    def run_shard(self, task: ShardTask):
        if task.index == 1 and not Path(self.marker).exists():
            Path(self.marker).touch()
            writer = TarShardWriter(Path(self.inner.out_dir), shard_name(self.inner.prefix, task.index, ".tar"))
            writer.add("half", {"bin": b"x" * 1000})
            assert [p for p in Path(self.inner.out_dir).iterdir() if ".tmp-" in p.name]
            os._exit(9)
        return self.inner.run_shard(task)

    def finalize(self, out_dir, shards):
        return []


def run(out: Path, pool, job=None):
    tasks = plan_shards(KEYS, 5, str)
    job = job or RandomBytesJob(str(out), 7)
    return execute(job, tasks, describe(planned=len(tasks)), EngineSettings(out, workers=2), pool)


def test_ray_gives_the_bytes_of_local_workers(tmp_path, local_ray):
    with RayPool(None, 2) as pool:
        on_ray = run(tmp_path / "ray", pool)
    local = run(tmp_path / "local", None)
    assert folder_bytes(tmp_path / "ray") == folder_bytes(tmp_path / "local")
    assert on_ray.manifest == local.manifest


def test_a_worker_that_dies_is_retried_with_identical_bytes(tmp_path, local_ray):
    out = tmp_path / "retried"
    with RayPool(None, 2) as pool:
        run(out, pool, DiesOnceJob(RandomBytesJob(str(out), 7), str(tmp_path / "died")))
    assert (tmp_path / "died").exists()
    run(tmp_path / "local", None)
    assert folder_bytes(out) == folder_bytes(tmp_path / "local")
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]


def test_a_run_interrupted_locally_resumes_on_ray(tmp_path, local_ray):
    out = tmp_path / "mixed"
    with pytest.raises(Exception):
        run(out, None, RandomBytesJob(str(out), 7, crash_at=3))
    tasks = plan_shards(KEYS, 5, str)
    with RayPool(None, 2) as pool:
        outcome = execute(RandomBytesJob(str(out), 7), tasks, describe(planned=len(tasks)),
                          EngineSettings(out, workers=2, resume=True), pool)
    assert outcome.resumed_shards >= 1
    run(tmp_path / "whole", None)
    assert folder_bytes(out) == folder_bytes(tmp_path / "whole")


def test_version_probe(local_ray):
    assert check_versions(ray) == runtime_versions()
    driver = {**runtime_versions(), "samplegen": "0.0-other"}
    with pytest.raises(ConfigError, match="other versions.*samplegen 0.0-other here"):
        check_versions(ray, driver)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("layout", ["packed", "wds", "list", "tfrecord"])
def test_mtcnn_on_ray_equals_local_workers_in_every_layout(tmp_path, local_ray, layout):
    import samplegen

    common = dict(layout=layout, shard_size=1, workers=2)
    samplegen.run_mtcnn(24, out=tmp_path / "ray", engine="ray", **common)     # mines with the embedded nets
    samplegen.run_mtcnn(24, out=tmp_path / "local", **common)
    assert tree(tmp_path / "ray") == tree(tmp_path / "local")


def test_detect_on_ray_equals_local_workers(tmp_path, local_ray):
    from samplegen.pipelines.detect import run_detect

    run_detect(out=tmp_path / "ray", engine="ray", shard_size=1, workers=2)
    run_detect(out=tmp_path / "local", shard_size=1, workers=2)
    assert tree(tmp_path / "ray") == tree(tmp_path / "local")


def _read_marker(_: int) -> str | None:
    return os.environ.get("SAMPLEGEN_TEST_RAY_ENV")


def test_ray_env_gives_the_tasks_the_drivers_variables(local_ray, monkeypatch):
    # Set after the Ray instance started: its workers do not inherit it, only --ray-env gives it.
    monkeypatch.setenv("SAMPLEGEN_TEST_RAY_ENV", "from-the-driver")
    from samplegen.pipelines.options import forwarded_env

    with RayPool(None, 2) as pool:
        assert set(pool.map(_read_marker, [0, 1])) == {None}
    with RayPool(None, 2, env=forwarded_env(["SAMPLEGEN_TEST_RAY_ENV"])) as pool:
        assert list(pool.map(_read_marker, [0, 1, 2])) == ["from-the-driver"] * 3
    with pytest.raises(ConfigError, match="--ray-env SAMPLEGEN_TEST_UNSET: not set in this environment"):
        forwarded_env(["SAMPLEGEN_TEST_UNSET"])


def test_ray_env_on_the_command_line(tmp_path):
    from tests.cli.helpers import run_cli

    unset = run_cli(["anchors", "--method", "ssd300", "--no-progress", "--engine", "ray", "--ray-env",
                     "SAMPLEGEN_TEST_UNSET", "--out", tmp_path / "a"])
    assert unset.code == 2 and unset.stderr == "samplegen: --ray-env SAMPLEGEN_TEST_UNSET: not set in this environment\n"
    alone = run_cli(["anchors", "--method", "ssd300", "--ray-env", "HOME", "--out", tmp_path / "b"])
    assert alone.code == 2 and "--ray-env goes with --engine ray" in alone.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
