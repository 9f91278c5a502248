"""Distributors: map a shard function over tasks, serially or on a process pool.

Both share one signature, ``(fn, tasks, workers) -> iterator of results`` in completion order, so
a cluster engine can be added beside them. Results can come in any order: each shard's bytes
depend only on its task, and the manifest sorts shards by index.
"""
from __future__ import annotations

import itertools
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

PRELOAD = ["numpy", "cv2", "samplegen.jobs.mtcnn_job", "samplegen.jobs.mtcnn_plan", "samplegen.jobs.anchors_job"]
T = TypeVar("T")
R = TypeVar("R")


def _init_worker() -> None:
    # One OpenCV thread per worker: N workers on N cores, not N x cores threads fighting.
    import cv2

    cv2.setNumThreads(1)


def run_serial(fn: Callable[[T], R], tasks: Sequence[T], workers: int = 1) -> Iterator[R]:
    """Run tasks one after the other in this process (also the ``--workers 1`` path)."""
    _init_worker()
    for task in tasks:
        yield fn(task)


def run_multiprocessing(fn: Callable[[T], R], tasks: Sequence[T], workers: int) -> Iterator[R]:
    """Run tasks on `workers` processes started with forkserver (spawn where unavailable).

    Fork is avoided: it would copy the parent's threads and OpenCV state. A worker that dies
    (killed, out of memory) raises `BrokenProcessPool` here instead of hanging the run, as
    `multiprocessing.Pool` would. At most two tasks per worker are in flight, so task data is
    pickled as it is needed. `fn` must be picklable.
    """
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # Import the heavy modules once in the fork server: each worker then starts from a fork
        # of it instead of importing numpy, OpenCV and samplegen again (~0.1 s a worker).
        context.set_forkserver_preload(PRELOAD)
    queue = iter(tasks)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker) as pool:
        running = {pool.submit(fn, task) for task in itertools.islice(queue, 2 * workers)}
        try:
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    running.update(pool.submit(fn, task) for task in itertools.islice(queue, 1))
        finally:
            for future in running:
                future.cancel()


def distribute(fn: Callable[[T], R], tasks: Sequence[T], workers: int) -> Iterable[R]:
    """The serial path for one worker or one task, the process pool otherwise."""
    if workers <= 1 or len(tasks) <= 1:
        return run_serial(fn, tasks)
    return run_multiprocessing(fn, tasks, min(workers, len(tasks)))
