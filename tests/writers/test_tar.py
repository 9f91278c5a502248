"""Hand-built tar headers: what tarfile and webdataset read back, and deterministic bytes."""
from __future__ import annotations

import io
import tarfile

import pytest

from samplegen.writers.tar import TarShardWriter, tar_header


def write_shard(root, name="s-000000.tar"):
    writer = TarShardWriter(root, name)
    writer.add("a0001", {"png": b"\x89PNG" + b"x" * 600, "json": b'{"label": "pos"}'})
    writer.add("sub/a0002", {"json": b"{}"})
    writer.add("a0003", {"npz": b""})
    return writer.commit()[0]


def test_tarfile_reads_members_in_order_with_fixed_metadata(tmp_path):
    write_shard(tmp_path)
    with tarfile.open(tmp_path / "s-000000.tar") as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == ["a0001.png", "a0001.json", "sub/a0002.json", "a0003.npz"]
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in members} == {(0, 0, 0, "", "", 0o644)}
        assert archive.extractfile(members[1]).read() == b'{"label": "pos"}'
        assert members[3].size == 0


def test_webdataset_reads_the_samples(tmp_path):
    webdataset = pytest.importorskip("webdataset")
    write_shard(tmp_path)
    samples = list(webdataset.WebDataset(str(tmp_path / "s-000000.tar"), shardshuffle=False))
    assert [s["__key__"] for s in samples] == ["a0001", "sub/a0002", "a0003"]
    assert samples[0]["json"] == b'{"label": "pos"}' and samples[0]["png"].startswith(b"\x89PNG")


def test_same_samples_give_same_bytes(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = write_shard(tmp_path / "one")
    second = write_shard(tmp_path / "two")
    assert first.sha256 == second.sha256
    assert (tmp_path / "one/s-000000.tar").read_bytes() == (tmp_path / "two/s-000000.tar").read_bytes()
    assert first.bytes % 512 == 0 and first.bytes == (tmp_path / "one/s-000000.tar").stat().st_size


def test_header_checksum_matches_tarfile():
    header = tar_header("x" * 99, 12345)
    info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
    assert info.name == "x" * 99 and info.size == 12345


def test_long_names_use_the_ustar_prefix():
    name = "d" * 120 + "/k0001.json"
    info = tarfile.TarInfo.frombuf(tar_header(name, 3), "utf-8", "surrogateescape")
    assert info.name == name


def test_keys_with_dots_are_refused(tmp_path):
    writer = TarShardWriter(tmp_path, "s-000000.tar")
    with pytest.raises(ValueError, match="dots"):
        writer.add("image.jpg", {"json": b"{}"})
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_nothing_visible_before_commit(tmp_path):
    writer = TarShardWriter(tmp_path, "s-000000.tar")
    writer.add("k", {"json": b"{}"})
    assert not (tmp_path / "s-000000.tar").exists()
    writer.commit()
    assert (tmp_path / "s-000000.tar").exists()
    with tarfile.open(fileobj=io.BytesIO((tmp_path / "s-000000.tar").read_bytes())) as archive:
        assert archive.getnames() == ["k.json"]
