"""--resume does not trust a shard because of its size: damaged shards are found and written again."""
from __future__ import annotations

import os

import pytest

from samplegen.engine.manifest import read_manifest
from samplegen.errors import Interrupted
from tests.engine.test_run import folder_bytes, run

FIXED = {"fixed": True}  # equal-sized full shards, so a swap keeps every size
MANY = [f"k{i:03d}" for i in range(60)]  # 12 shards: more than the 4 always re-hashed


@pytest.fixture()
def interrupted(tmp_path):
    """(folder of a run stopped after 4 of 5 shards, folder of the uninterrupted run)."""
    reference = tmp_path / "ref"
    run(reference, job_kwargs=FIXED)
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        run(out, job_kwargs={**FIXED, "interrupt_at": 4})
    return out, reference


def _listed(out):
    return [s["files"][0]["name"] for s in read_manifest(out)["shards"]]


def _flip_byte(path, keep_mtime: bool = False) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_flipped_byte_is_found_and_the_shard_redone(interrupted, capsys):
    out, reference = interrupted
    _flip_byte(out / _listed(out)[0])
    outcome = run(out, resume=True, job_kwargs=FIXED)
    assert outcome.resumed_shards == 3
    assert "1 shards of" in capsys.readouterr().err
    assert folder_bytes(out) == folder_bytes(reference)


def test_a_zero_filled_shard_of_the_same_size_is_redone(interrupted):
    out, reference = interrupted
    victim = out / _listed(out)[1]
    victim.write_bytes(bytes(victim.stat().st_size))
    assert run(out, resume=True, job_kwargs=FIXED).resumed_shards == 3
    assert folder_bytes(out) == folder_bytes(reference)


def test_two_swapped_shards_of_the_same_size_are_redone(interrupted):
    out, reference = interrupted
    a, b = (out / name for name in _listed(out)[:2])
    assert a.stat().st_size == b.stat().st_size
    tmp = out / "swap"
    os.rename(a, tmp), os.rename(b, a), os.rename(tmp, b)  # renames keep each file's mtime
    assert run(out, resume=True, job_kwargs=FIXED).resumed_shards == 2
    assert folder_bytes(out) == folder_bytes(reference)


@pytest.mark.parametrize("verify", [False, True])
def test_damage_hiding_its_mtime_needs_verify_unless_written_last(tmp_path, verify):
    reference = tmp_path / "ref"
    run(reference, job_kwargs=FIXED, keys=MANY)
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        run(out, job_kwargs={**FIXED, "interrupt_at": 10}, keys=MANY)
    names = _listed(out)
    _flip_byte(out / names[0], keep_mtime=True)   # old: size and mtime as recorded
    _flip_byte(out / names[-1], keep_mtime=True)  # among the last max(4, 2 x workers) written
    outcome = run(out, resume=True, job_kwargs=FIXED, keys=MANY, verify=verify)
    assert outcome.resumed_shards == (8 if verify else 9)
    expected = folder_bytes(reference)
    damaged_left = sorted(n for n, data in folder_bytes(out).items() if data != expected.get(n))
    # without --verify the old shard is trusted, and keeps its manifest record (and so disagrees
    # with it: `samplegen verify` would say so)
    assert damaged_left == ([] if verify else [names[0]])


def test_a_complete_run_resumed_is_hashed_in_full(tmp_path):
    run(tmp_path, job_kwargs=FIXED)
    reference = folder_bytes(tmp_path)
    victim = tmp_path / _listed(tmp_path)[2]
    _flip_byte(victim, keep_mtime=True)  # a complete manifest records no mtimes: hashed anyway
    assert run(tmp_path, resume=True, job_kwargs=FIXED).resumed_shards == 4
    assert folder_bytes(tmp_path) == reference
