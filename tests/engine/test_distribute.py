import pytest

from samplegen.engine import distribute


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


def test_malloc_trim_found_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert distribute._MALLOC_TRIM is not None
