"""Readers name a damaged shard (truncated, missing, corrupted) instead of failing in a parser."""
from __future__ import annotations

import json

import pytest

import samplegen
from samplegen.errors import RunError
from tests.cli.helpers import run_cli


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    samplegen.run_mtcnn(12, out=root / "packed", workers=1)
    samplegen.run_mtcnn(12, out=root / "wds", layout="wds", workers=1)
    samplegen.run_anchors("fpn", out=root / "anchors", workers=1)
    return root


def first_file(out):
    manifest = json.loads((out / "manifest.json").read_text())
    return out / manifest["shards"][0]["files"][0]["name"]


def damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "missing":
        path.unlink()
    else:                                   # the same size, bytes changed in the middle
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 64]) + data[middle + 64:])


@pytest.mark.parametrize("layout", ["packed", "wds", "anchors"])
@pytest.mark.parametrize("how", ["truncated", "missing", "corrupted"])
def test_reading_a_damaged_shard_names_it(outputs, tmp_path, layout, how):
    import shutil

    out = tmp_path / layout
    shutil.copytree(outputs / layout, out)
    path = first_file(out)
    damage(path, how)
    read = samplegen.read_anchors if layout == "anchors" else samplegen.read_mtcnn
    if how == "corrupted" and layout == "packed":
        # raw npy bytes have no checksum: the values change, the reader cannot tell (verify can)
        list(read(out))
    else:
        with pytest.raises(RunError, match=f"{path.name}: damaged shard"):
            list(read(out))
    res = run_cli(["verify", out])
    assert res.code == 1 and path.name in res.stdout


def test_stats_of_a_truncated_shard_is_one_line(outputs, tmp_path):
    import shutil

    out = tmp_path / "a"
    shutil.copytree(outputs / "anchors", out)
    damage(first_file(out), "truncated")
    res = run_cli(["stats", out])
    assert res.code == 1 and res.stdout == "" and len(res.stderr.splitlines()) == 1
    assert "damaged shard" in res.stderr and "samplegen verify" in res.stderr
