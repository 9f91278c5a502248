"""Pool processes die with the run that started them, however it dies (kill -9 included).

Without this, a killed parent leaves its forkserver and workers running: each finishes the shard
it holds, commits it into a folder nobody watches any more, then waits forever on the task queue
(every worker holds the queue's write end too, so it never sees end-of-file).

On Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes a process receive SIGKILL
when its parent exits. The chain is run -> forkserver -> workers: the fork server arms itself
when it imports this module (it is in the fork server's preload list; `PARENT_ENV` names the
run's pid so nothing else arms on import), and each worker arms itself in its initialiser
(`arm`). Elsewhere a daemon thread polls the parent's pid once a second and exits the process.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PARENT_ENV = "SAMPLEGEN_POOL_PARENT"
_PR_SET_PDEATHSIG = 1


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not)."""
    if os.path.isdir("/proc/self"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
        except FileNotFoundError:
            return False
        except OSError:
            pass  # unreadable: ask the kernel
    # No /proc (macOS): only the kernel can tell.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prctl_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (AttributeError, OSError):
        return False


def _watch(pid: int) -> None:
    while process_alive(pid):
        time.sleep(1.0)
    os._exit(1)


def arm(run_pid: int, parent_pid: int | None = None) -> None:
    """Make this process die when its parent does; exit now if it is already gone.

    The checks after arming close the window in which the parent died before the signal was
    set (the signal would then be tied to the process that adopted this one): `parent_pid` is
    the parent this process was started by (the fork server, for a worker), and the run
    `run_pid` must still be running too.
    """
    if not _prctl_pdeathsig():
        threading.Thread(target=_watch, args=(os.getppid(),), daemon=True, name="samplegen-lifeline").start()
    if (parent_pid is not None and os.getppid() != parent_pid) or not process_alive(run_pid):
        os._exit(1)


def _arm_fork_server() -> None:
    # Imported by the fork server the run started: its parent is that run.
    expected = os.environ.get(PARENT_ENV)
    if expected and expected == str(os.getppid()):
        arm(int(expected), int(expected))


_arm_fork_server()


def wait_gone(pid: int | None, timeout: float = 5.0) -> bool:
    """Wait until `pid` no longer runs (a zombie counts as gone), at most `timeout` seconds;
    whether it is gone. For a process this one cannot ``waitpid``: a pool worker, a child of
    the fork server."""
    if pid is None:
        return True
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
