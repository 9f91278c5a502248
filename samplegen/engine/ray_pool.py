"""`RayPool`: the `WorkerPool.map` contract on a Ray cluster (``--engine ray``).

Shards are pure functions of their task, so a shard may run on any node, be retried after its
worker died (``max_retries``) or after a storage error, and still give the same bytes; results
come back in completion order and the engine sorts them by index, as with processes. What a
process pool does once per worker (one OpenCV thread, the heap trimmed after each task) happens
inside each task here, because Ray reuses its workers across jobs.

Before any work, `check_versions` runs one task per node and refuses (exit 2) a cluster whose
samplegen, numpy or OpenCV versions differ from the driver's: they decide output bytes. Ray is
an optional dependency (``pip install "samplegen[ray]"``); it is imported only here.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

from samplegen.engine.manifest import runtime_versions
from samplegen.errors import ConfigError, RunError

T = TypeVar("T")
R = TypeVar("R")
IN_FLIGHT_PER_CPU = 2       # tasks submitted ahead per CPU: task data is shipped as it is needed
DEFAULT_MAX_RETRIES = 3     # a worker or node that dies mid-shard: the shard runs again elsewhere


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError('the ray engine needs Ray: pip install "samplegen[ray]"') from None
    return ray


def _run_task(fn: Callable[[T], R], task: T) -> R:
    # Per-worker set-up inside the task: Ray workers are shared between jobs, so nothing is
    # assumed. One OpenCV thread (Ray schedules one task per CPU) and, after the task, the freed
    # heap handed back to the OS (glibc keeps it otherwise: RSS would creep shard after shard).
    import ctypes

    import cv2

    cv2.setNumThreads(1)
    try:
        return fn(task)
    finally:
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (AttributeError, OSError):
            pass


class RayPool:
    """Map shard functions over Ray tasks with bounded in-flight work.

    Args:
        address: a Ray cluster (``ray://host:10001`` or ``auto``); None starts a local instance
            with `workers` CPUs.
        workers: CPUs of a local instance; in-flight tasks are ``IN_FLIGHT_PER_CPU`` per
            cluster CPU.
        max_retries: reruns of a task whose worker died, or that raised `OSError` (storage).
        env: environment variables every task runs with (``--ray-env``: credentials, an S3
            endpoint), set per task so they apply on a cluster this process did not start too.
    """

    def __init__(self, address: str | None, workers: int, max_retries: int = DEFAULT_MAX_RETRIES,
                 env: Mapping[str, str] | None = None) -> None:
        self.address, self.workers, self.max_retries = address, workers, max_retries
        self.env = dict(env or {})
        self._ray: Any = None
        self._started = False
        self._running: list = []

    def __enter__(self) -> "RayPool":
        ray = import_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": False}
            if self.address is None:
                kwargs["num_cpus"] = self.workers
            else:
                # Ship the project's code with the job, so the nodes run the driver's samplegen.
                kwargs["runtime_env"] = {"py_modules": [str(Path(__file__).resolve().parents[1])]}
            try:
                ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"cannot reach the Ray cluster {self.address or '(local)'}: {exc}") from None
            self._started = True
        self._ray = ray
        check_versions(ray)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._started and self._ray is not None:
            self._ray.shutdown()
        self._ray, self._started = None, False

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], in_workers: bool = True) -> Iterator[R]:
        """Results of `fn` over `tasks` in completion order (`fn` is shipped with cloudpickle);
        every task runs in a Ray worker (`in_workers` is for `WorkerPool`'s signature)."""
        if self._ray is None:
            raise RuntimeError("RayPool.map outside its with block")
        return self._map(fn, tasks)

    def _map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        ray = self._ray
        options: dict[str, Any] = {"runtime_env": {"env_vars": self.env}} if self.env else {}
        remote = ray.remote(max_retries=self.max_retries, retry_exceptions=[OSError], **options)(_run_task)
        fn_ref = ray.put(fn)
        cpus = int(ray.cluster_resources().get("CPU", self.workers)) or 1
        queue = iter(tasks)
        running = self._running = [remote.remote(fn_ref, task)
                                   for task in itertools.islice(queue, IN_FLIGHT_PER_CPU * cpus)]
        try:
            while running:
                done, rest = ray.wait(running, num_returns=1)
                running[:] = rest
                yield _result(ray, done[0])
                running.extend(remote.remote(fn_ref, task) for task in itertools.islice(queue, 1))
        finally:
            self.abort()

    def abort(self) -> None:
        """Cancel the tasks in flight (a failed or interrupted run: nothing may commit after it)."""
        for ref in self._running:
            self._ray.cancel(ref, force=True)
        self._running = []


def _result(ray: Any, ref: Any) -> Any:
    """The task's value; its own exception (a SamplegenError, a bug) is raised as itself."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.as_instanceof_cause()
        raise cause from None
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as exc:
        raise RunError(f"a Ray worker died after {DEFAULT_MAX_RETRIES} retries ({type(exc).__name__}); "
                       "completed shards are kept, rerun with --resume") from None


def check_versions(ray: Any, driver: dict[str, str] | None = None) -> dict[str, str]:
    """Refuse (ConfigError) a cluster whose byte-deciding versions differ from `driver` (by
    default this process's `runtime_versions`); returns the versions, for the manifest."""
    driver = driver or runtime_versions()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    probe = ray.remote(num_cpus=0)(runtime_versions)
    refs = [probe.options(scheduling_strategy=_on_node(ray, n["NodeID"])).remote() for n in nodes] or [probe.remote()]
    for node_versions in ray.get(refs):
        differ = {k: (driver[k], v) for k, v in node_versions.items() if driver.get(k) != v}
        if differ:
            text = ", ".join(f"{k} {mine} here, {theirs} on a worker" for k, (mine, theirs) in differ.items())
            raise ConfigError(f"the Ray cluster runs other versions ({text}); they would change the bytes")
    return driver


def _on_node(ray: Any, node_id: str) -> Any:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
