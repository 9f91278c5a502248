"""Distributors: map a shard function over tasks, serially or on a process pool.

`run_serial` and `WorkerPool.map` share one shape, ``(fn, tasks) -> iterator of results`` in
completion order, so a cluster engine can be added beside them. Results can come in any order: each shard's bytes
depend only on its task, and the manifest sorts shards by index.
"""
from __future__ import annotations

import ctypes
import itertools
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterator, Sequence, TypeVar

BASE_PRELOAD = ("numpy", "cv2")
T = TypeVar("T")
R = TypeVar("R")


def _init_worker() -> None:
    # One OpenCV thread per worker: N workers on N cores, not N x cores threads fighting.
    import cv2

    cv2.setNumThreads(1)


def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only
    except (AttributeError, OSError):
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def _trimmed(fn: Callable[[T], R], task: T) -> R:
    """`fn(task)`, then the freed heap handed back to the OS.

    glibc keeps freed memory of a task's arrays in its heap, fragmented, so without this a
    worker's RSS creeps up shard after shard (+25 MB over 30 FPN shards) and its peak grows with
    the length of the run instead of staying at one shard's working set.
    """
    try:
        return fn(task)
    finally:
        if _MALLOC_TRIM is not None:
            _MALLOC_TRIM(0)


def run_serial(fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
    """Run tasks one after the other in this process (also the ``--workers 1`` path)."""
    _init_worker()
    for task in tasks:
        yield _trimmed(fn, task)


def _context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # Import the heavy modules once in the fork server: each worker then starts from a fork
        # of it instead of importing numpy, OpenCV and samplegen again (~0.1 s a worker).
        context.set_forkserver_preload(list(dict.fromkeys([*BASE_PRELOAD, *preload])))
    return context


class WorkerPool:
    """Worker processes shared by the stages of one run (MTCNN plans, then cuts, on one pool).

    Processes are started with forkserver (spawn where unavailable) on the first parallel `map`
    and stopped when the `with` block ends: starting a pool costs ~0.25 s, a quarter of a small
    run. Fork is avoided: it would copy the parent's threads and OpenCV state. A worker that dies
    (killed, out of memory) raises `BrokenProcessPool` instead of hanging the run, as
    `multiprocessing.Pool` would.
    """

    def __init__(self, workers: int, preload: Sequence[str] = ()) -> None:
        """`preload`: modules the workers will need (the job's), imported once in the fork server."""
        self.workers = workers
        self.preload = tuple(preload)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def map(self, fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
        """Results of `fn` over `tasks` in completion order; serially for one worker or task.

        At most two tasks per worker are in flight, so task data is pickled as it is needed.
        `fn` must be picklable (a module-level function or a bound method of picklable data).
        """
        if self.workers <= 1 or len(tasks) <= 1:
            return run_serial(fn, tasks)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=_context(self.preload),
                                                 initializer=_init_worker)
        return _bounded_map(self._executor, fn, tasks, self.workers)


def _bounded_map(pool: ProcessPoolExecutor, fn: Callable[[T], R], tasks: Sequence[T],
                 workers: int) -> Iterator[R]:
    queue = iter(tasks)
    running = {pool.submit(_trimmed, fn, task) for task in itertools.islice(queue, 2 * workers)}
    try:
        while running:
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                running.update(pool.submit(_trimmed, fn, task) for task in itertools.islice(queue, 1))
    finally:
        for future in running:
            future.cancel()
