"""One run per output folder: the second exits 2 naming the holder's pid; the lock never outlives it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from samplegen.engine.lock import LOCK_NAME, OutputLock
from samplegen.errors import ConfigError
from tests.engine.test_run import folder_bytes, run


def test_a_second_run_is_refused_naming_the_holder(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    with OutputLock(tmp_path):
        with pytest.raises(ConfigError, match=rf"in use by another samplegen run \(pid {os.getpid()} on "):
            run(tmp_path)
    assert list(tmp_path.iterdir()) == [], "the refused run must not touch the folder"
    run(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_held_by_another_process_is_named_with_its_pid(tmp_path):
    code = ("import sys, time; from pathlib import Path; from samplegen.engine.lock import OutputLock\n"
            "with OutputLock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=rf"pid {holder.pid} on "):
            run(tmp_path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    run(tmp_path)  # released when the holder ended


def test_a_lock_file_left_by_a_killed_run_does_not_block(tmp_path):
    reference = tmp_path / "ref"
    run(reference)
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text("12345 on elsewhere\n")  # nobody holds the flock any more
    run(out)
    assert folder_bytes(out) == folder_bytes(reference)
    assert not (out / LOCK_NAME).exists()


def test_verify_takes_a_shared_lock_and_leaves_no_file(tmp_path):
    with OutputLock(tmp_path, shared=True):
        pass
    assert not (tmp_path / LOCK_NAME).exists()
    with OutputLock(tmp_path), pytest.raises(ConfigError, match="in use"):
        with OutputLock(tmp_path, shared=True):
            pass
