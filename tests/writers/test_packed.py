import io
import time

import numpy as np

from samplegen.writers.npz import npz_bytes
from samplegen.writers.packed import PackedShardWriter


def test_npz_bytes_are_reproducible_and_loadable():
    arrays = {"cls": np.array([1, 0, -1], np.int8), "roi": np.ones((3, 4), np.float32)}
    first = npz_bytes(arrays)
    time.sleep(1.1)  # numpy.savez would stamp a new time here
    assert npz_bytes(arrays) == first
    loaded = np.load(io.BytesIO(first))
    assert list(loaded.files) == ["cls", "roi"] and loaded["cls"].tolist() == [1, 0, -1]
    assert len(npz_bytes(arrays, compress=True)) < len(first)


def test_packed_shard_round_trip_with_mmap(tmp_path):
    writer = PackedShardWriter(tmp_path, "p-000000", (12, 12, 3))
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (4, 12, 12, 3), dtype=np.uint8)
    second = rng.integers(0, 256, (2, 12, 12, 3), dtype=np.uint8)
    writer.add_batch(first, {"cls": np.array([1, 0, 0, -1], np.int8)})
    writer.add_batch(second, {"cls": np.array([-2, 1], np.int8)})
    files = writer.commit(extra={"sources": np.array(["a.jpg", "b.jpg"])})
    assert [f.name for f in files] == ["p-000000.images.npy", "p-000000.labels.npz"]
    images = np.load(tmp_path / "p-000000.images.npy", mmap_mode="r")
    assert images.shape == (6, 12, 12, 3) and np.array_equal(images[4:], second)
    labels = np.load(tmp_path / "p-000000.labels.npz")
    assert labels["cls"].tolist() == [1, 0, 0, -1, -2, 1] and labels["sources"].tolist() == ["a.jpg", "b.jpg"]


def test_empty_packed_shard_keeps_shapes(tmp_path):
    writer = PackedShardWriter(tmp_path, "p-000001", (24, 24, 3))
    writer.commit(empty_columns={"cls": np.zeros(0, np.int8)})
    assert np.load(tmp_path / "p-000001.images.npy").shape == (0, 24, 24, 3)
    assert np.load(tmp_path / "p-000001.labels.npz")["cls"].dtype == np.int8


def test_packed_images_match_np_save_and_leave_no_spool(tmp_path):
    # Batches are spooled to disk as they come; the committed file must be exactly what
    # np.save writes for the concatenated array, and nothing else may remain in the folder.
    rng = np.random.default_rng(1)
    batches = [rng.integers(0, 256, (k, 48, 48, 3), dtype=np.uint8) for k in (3, 0, 70, 1)]
    writer = PackedShardWriter(tmp_path, "p-000002", (48, 48, 3))
    for batch in batches:
        writer.add_batch(batch, {"cls": np.zeros(len(batch), np.int8)})
    assert any(p.name.startswith(".p-000002") for p in tmp_path.iterdir())  # spooling, hidden
    writer.commit()
    expected = io.BytesIO()
    np.save(expected, np.concatenate(batches))
    assert (tmp_path / "p-000002.images.npy").read_bytes() == expected.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p-000002.images.npy", "p-000002.labels.npz"]


def test_aborted_packed_shard_leaves_nothing(tmp_path):
    writer = PackedShardWriter(tmp_path, "p-000003", (12, 12, 3))
    writer.add_batch(np.zeros((2, 12, 12, 3), np.uint8), {"cls": np.zeros(2, np.int8)})
    writer.abort()
    assert list(tmp_path.iterdir()) == []
