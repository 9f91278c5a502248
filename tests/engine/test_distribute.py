import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from samplegen.engine import distribute

REPO = Path(__file__).resolve().parents[2]


def _square(x: int) -> int:
    return x * x


def _fail(x: int) -> int:
    raise RuntimeError(f"task {x}")


def test_serial_tasks_hand_freed_heap_back_after_each_task(monkeypatch):
    calls = []
    monkeypatch.setattr(distribute, "_MALLOC_TRIM", lambda pad: calls.append(pad) or 1)
    assert list(distribute.run_serial(_square, [1, 2, 3])) == [1, 4, 9]
    assert calls == [0, 0, 0]
    with pytest.raises(RuntimeError, match="task 7"):
        list(distribute.run_serial(_fail, [7]))
    assert calls == [0, 0, 0, 0]  # trimmed even when the task failed


def test_pool_results_and_errors_pass_through_the_trim_wrapper():
    with distribute.WorkerPool(2) as pool:
        assert sorted(pool.map(_square, [1, 2, 3, 4])) == [1, 4, 9, 16]
        with pytest.raises(RuntimeError, match=r"task [56]"):  # whichever worker fails first
            list(pool.map(_fail, [5, 6]))


def _pid(_: int) -> int:
    return os.getpid()


def test_one_task_runs_here_unless_asked_to_run_in_a_worker():
    # The MTCNN balance asks for a worker: its temporaries must not be the parent's peak.
    with distribute.WorkerPool(2) as pool:
        assert list(pool.map(_pid, [0])) == [os.getpid()]
        [worker] = list(pool.map(_pid, [0], in_workers=True))
    assert worker != os.getpid()
    with distribute.WorkerPool(1) as pool:   # one worker: everything runs here
        assert list(pool.map(_pid, [0], in_workers=True)) == [os.getpid()]


def test_malloc_trim_found_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert distribute._MALLOC_TRIM is not None


def _children() -> dict[int, list[int]]:
    """ppid -> pids of every process, from /proc (Linux)."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


DRIVER = """
import sys
from pathlib import Path
from samplegen.engine.run import EngineSettings, execute
from samplegen.engine.task import plan_shards
from tests.engine.jobs import RandomBytesJob
from tests.engine.test_run import KEYS, describe
out = Path(sys.argv[1])
tasks = plan_shards(KEYS, 5, str)
job = RandomBytesJob(str(out), 7, delay=2.0)
execute(job, tasks, describe(planned=len(tasks)), EngineSettings(out, workers=2))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_workers_and_fork_server_die_with_a_killed_parent_and_commit_nothing(tmp_path):
    out = tmp_path / "out"
    parent = subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while len(_descendants(parent.pid)) < 3 and time.monotonic() < deadline:  # fork server + 2 workers
            time.sleep(0.05)
        pool = _descendants(parent.pid)
        assert len(pool) >= 3, "the pool did not start"
        time.sleep(0.5)  # the workers are inside their first (2 s) shard
        parent.kill()
        parent.wait()
        before = sorted(p.name for p in out.iterdir())
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in pool) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in pool if _alive(pid)], "pool processes outlived their parent"
        assert sorted(p.name for p in out.iterdir()) == before
        assert not list(out.glob("*.tar")), "a shard was committed after the parent died"
    finally:
        if parent.poll() is None:
            parent.kill()


def _dies(x: int) -> int:
    if x == 2:
        os._exit(3)
    return x


def test_a_worker_dying_is_one_error_naming_the_tasks_in_flight():
    with distribute.WorkerPool(2) as pool:
        with pytest.raises(distribute.WorkerLost) as info:
            list(pool.map(_dies, [1, 2, 3, 4]))
    assert 2 in info.value.tasks


def test_a_process_adopted_before_it_could_arm_exits_at_once():
    """A worker whose fork server died between the fork and `arm` has been adopted: it must go."""
    code = ("import os; from samplegen.engine import lifeline\n"
            "lifeline.arm(os.getppid(), parent_pid=os.getppid() + 1); print('still running')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout) == (1, "")
    code = "import os; from samplegen.engine import lifeline; lifeline.arm(os.getppid(), os.getppid()); print('ok')"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout == "ok\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies are read from /proc")
def test_a_dead_run_not_yet_reaped_counts_as_dead():
    from samplegen.engine import lifeline

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    assert not lifeline.process_alive(child.pid)  # a zombie: os.kill(pid, 0) would still succeed
    child.wait()
    assert not lifeline.process_alive(child.pid) and lifeline.process_alive(os.getpid())
