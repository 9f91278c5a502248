"""Distributors: map a shard function over tasks, serially or on a process pool.

`run_serial` and `WorkerPool.map` share one shape, ``(fn, tasks) -> iterator of results`` in
completion order, so a cluster engine can be added beside them. Results can come in any order:
each shard's bytes depend only on its task, and the manifest sorts shards by index.

Pool workers die with the run (`samplegen.engine.lifeline`) and ignore Ctrl-C: the terminal sends
SIGINT to the whole process group, and the run, not each worker, decides what happens (it kills
its workers, then removes what they left half-written). A worker that dies raises `WorkerLost`
naming its task instead of `BrokenProcessPool`.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import multiprocessing
import os
import signal
import tempfile
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Sequence, TypeVar

from samplegen.engine import lifeline
from samplegen.engine.images import MAX_PIXELS
from samplegen.errors import RunError

# lifeline first: the fork server arms its parent-death signal before the slow imports.
BASE_PRELOAD = (lifeline.__name__, "numpy", "cv2")
OPENCV_PIXEL_LIMIT = "OPENCV_IO_MAX_IMAGE_PIXELS"
T = TypeVar("T")
R = TypeVar("R")


class WorkerLost(RunError):
    """A worker process died (killed, out of memory) while `tasks` were in flight, one of them
    its own (the pool cannot tell which)."""

    def __init__(self, tasks: Sequence[Any]) -> None:
        self.tasks = tuple(tasks)
        super().__init__("a worker process died")


def _init_serial() -> None:
    # One OpenCV thread per worker: N workers on N cores, not N x cores threads fighting.
    import cv2

    cv2.setNumThreads(1)


def _init_worker(run_pid: int, parent_pid: int | None) -> None:
    lifeline.arm(run_pid, parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_serial()


def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc only
    except (AttributeError, OSError):
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def release_free_memory() -> None:
    """Hand the heap's free memory back to the OS (glibc's ``malloc_trim``; elsewhere nothing):
    for a parent that has just dropped a large transient (pass 1's results)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _trimmed(fn: Callable[[T], R], task: T) -> R:
    """`fn(task)`, then the freed heap handed back to the OS.

    glibc keeps freed memory of a task's arrays in its heap, fragmented, so without this a
    worker's RSS creeps up shard after shard (+25 MB over 30 FPN shards) and its peak grows with
    the length of the run instead of staying at one shard's working set.
    """
    try:
        return fn(task)
    finally:
        release_free_memory()


def run_serial(fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[R]:
    """Run tasks one after the other in this process (also the ``--workers 1`` path)."""
    _init_serial()
    for task in tasks:
        yield _trimmed(fn, task)


def _context(preload: Sequence[str]) -> tuple[multiprocessing.context.BaseContext, int | None]:
    """The start method's context, and the pid the workers will have as parent (the fork
    server's, None when unknown)."""
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method != "forkserver":
        return context, os.getpid()
    # Import the heavy modules once in the fork server: each worker then starts from a fork
    # of it instead of importing numpy, OpenCV and samplegen again (~0.1 s a worker).
    context.set_forkserver_preload(list(dict.fromkeys([*BASE_PRELOAD, *preload])))
    return context, _start_fork_server()


def _start_fork_server() -> int | None:
    """Start the fork server now, from this thread, with the variables it reads on start-up:
    whose death it must not outlive (`lifeline.PARENT_ENV`), and OpenCV's decoding limit, read
    once when OpenCV loads (so a worker refuses an image bomb before allocating its pixels).
    They are set only while it starts. Returns its pid (a private attribute: None if absent)."""
    from multiprocessing import forkserver

    startup = {lifeline.PARENT_ENV: str(os.getpid()),
               OPENCV_PIXEL_LIMIT: os.environ.get(OPENCV_PIXEL_LIMIT, str(MAX_PIXELS))}
    saved = {name: os.environ.get(name) for name in startup}
    os.environ.update(startup)
    try:
        forkserver.ensure_running()
    except OSError as exc:
        if "AF_UNIX path too long" not in str(exc):
            raise
        # The fork server listens on a socket in the temporary folder; a socket path has ~100
        # bytes at most.
        raise OSError(errno.ENAMETOOLONG, "the temporary folder is too long a path for the worker processes' "
                      "socket: set TMPDIR to a shorter folder", tempfile.gettempdir()) from None
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)


class WorkerPool:
    """Worker processes shared by the stages of one run (MTCNN plans, then cuts, on one pool).

    Processes are started with forkserver (spawn where unavailable) on the first parallel `map`
    and stopped when the `with` block ends: starting a pool costs ~0.25 s, a quarter of a small
    run. Fork is avoided: it would copy the parent's threads and OpenCV state. A worker that dies
    (killed, out of memory) raises `WorkerLost` instead of hanging the run, as
    `multiprocessing.Pool` would. When the block ends with an exception, or on `abort`, the
    workers are killed at once rather than left to finish (and commit) the tasks they hold.
    """

    def __init__(self, workers: int, preload: Sequence[str] = ()) -> None:
        """`preload`: modules the workers will need (the job's), imported once in the fork server."""
        self.workers = workers
        self.preload = tuple(preload)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is not None:
            self.abort()
        elif self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def abort(self) -> None:
        """Kill the workers now and wait until they are gone; the pool can start again later."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list(getattr(executor, "_processes", {}).values())  # private, stable since 3.2
        # By pid, not `is_alive`: a worker's status comes from its fork server, and once that is
        # gone (it dies with the thread that started it) every worker looks dead, even one still
        # unpickling its queues, which then prints a traceback after this process has left.
        for process in processes:
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(process.pid, signal.SIGKILL)
        for process in processes:
            process.join()
            lifeline.wait_gone(process.pid)
        executor.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[[T], R], tasks: Sequence[T], in_workers: bool = False) -> Iterator[R]:
        """Results of `fn` over `tasks` in completion order; serially for one worker or task
        (with `in_workers`, a single task too runs in a worker: work whose transient memory must
        not become this process's peak).

        At most two tasks per worker are in flight, so task data is pickled as it is needed.
        `fn` must be picklable (a module-level function or a bound method of picklable data).
        """
        if self.workers <= 1 or (len(tasks) <= 1 and not in_workers):
            return run_serial(fn, tasks)
        if self._executor is None:
            context, parent = _context(self.preload)
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                 initializer=_init_worker, initargs=(os.getpid(), parent))
        return _bounded_map(self._executor, fn, tasks, self.workers)


def _bounded_map(pool: ProcessPoolExecutor, fn: Callable[[T], R], tasks: Sequence[T],
                 workers: int) -> Iterator[R]:
    queue = iter(tasks)
    running: dict[Future, T] = {}

    def submit(count: int) -> None:
        for task in itertools.islice(queue, count):
            running[pool.submit(_trimmed, fn, task)] = task

    try:
        submit(2 * workers)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                del running[future]
                yield result
                submit(1)
    except BrokenProcessPool:
        raise WorkerLost(list(running.values())) from None
    # Tasks still in flight are not cancelled here: every way out of a map but its end is followed
    # by `WorkerPool.abort`, and on Python 3.11 a future cancelled from this thread and then failed
    # by the executor's own thread when `abort` kills the workers crashes that thread with an
    # `InvalidStateError` traceback on stderr. `shutdown(cancel_futures=True)` cancels them safely.
