"""samplegen.torch over real CLI outputs: every sample exactly once, with its label, roi and
landmark, under DataLoader(num_workers=2) with each start method; splitting and the ratio sampler."""
from __future__ import annotations

import io
import json
import pickle
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samplegen import read_anchors, read_mtcnn
from samplegen.mtcnn.labels import CLASS_ORDER, LANDMARK, NEG, PART, POS


def test_import_samplegen_does_not_import_torch():
    code = "import sys, samplegen; assert 'torch' not in sys.modules and 'samplegen.torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


torch = pytest.importorskip("torch", reason="samplegen.torch needs PyTorch (pip install 'samplegen[torch]')")
from torch.utils.data import DataLoader  # noqa: E402

from samplegen.torch import (MtcnnPackedDataset, MtcnnWdsDataset, RatioBatchSampler, TarShardDataset,  # noqa: E402
                             batch_quotas, participant_rows)

START_METHODS = ("fork", "spawn", "forkserver")


def run_mtcnn(out: Path, *options: str) -> Path:
    subprocess.run([sys.executable, "-m", "samplegen", "mtcnn", "--size", "12", "--out", str(out), "--no-progress",
                    *options], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    """The embedded sample (91 crops) as packed in 4 shards, wds in 4 shards and wds in 1 shard."""
    root = tmp_path_factory.mktemp("torch")
    return {"packed": run_mtcnn(root / "packed", "--shard-size", "1"),
            "wds": run_mtcnn(root / "wds", "--layout", "wds", "--shard-size", "1"),
            "wds-1-shard": run_mtcnn(root / "wds1", "--layout", "wds", "--shards", "1")}


def sample_keys(images, labels, rois, landmarks) -> list[tuple]:
    """Hashable (pixels, label, roi, landmark) per sample of a batch (uint8 CHW BGR images)."""
    return [(images[k].numpy().tobytes(), int(labels[k]), rois[k].numpy().tobytes(), landmarks[k].numpy().tobytes())
            for k in range(len(labels))]


def expected_keys(out: Path) -> list[tuple]:
    return [(np.ascontiguousarray(s["image"].transpose(2, 0, 1)).tobytes(), s["cls"],
             np.asarray(s["roi"], np.float32).tobytes(), np.asarray(s["landmark"], np.float32).tobytes())
            for s in read_mtcnn(out)]


def loaded_keys(dataset, method: str | None, workers: int = 2) -> list[tuple]:
    loader = DataLoader(dataset, batch_size=8, num_workers=workers, multiprocessing_context=method)
    return [key for batch in loader for key in sample_keys(*batch)]


@pytest.mark.parametrize("method", START_METHODS)
def test_packed_dataloader_delivers_every_sample_once_in_order(outputs, method):
    dataset = MtcnnPackedDataset(outputs["packed"], normalize="none")
    expected = expected_keys(outputs["packed"])
    assert len(dataset) == len(expected) == 91
    assert loaded_keys(dataset, method) == expected


# Every start method on the one-shard output (fewer shards than workers); fork on the 4-shard one.
@pytest.mark.parametrize("output,method", [("wds", "fork")] + [("wds-1-shard", m) for m in START_METHODS])
def test_wds_dataloader_delivers_every_sample_once(outputs, output, method):
    dataset = MtcnnWdsDataset(outputs[output], normalize="none")
    got, expected = loaded_keys(dataset, method), expected_keys(outputs[output])
    assert len(got) == len(expected) == len(dataset) == 91
    assert Counter(got) == Counter(expected)


def test_packed_and_wds_give_the_same_tensors(outputs):
    packed = [key for batch in DataLoader(MtcnnPackedDataset(outputs["packed"], channels="rgb"), batch_size=91)
              for key in sample_keys(*batch)]
    wds = [key for batch in DataLoader(MtcnnWdsDataset(outputs["wds"], channels="rgb"), batch_size=91)
           for key in sample_keys(*batch)]
    assert packed == wds  # same seed, same samples, same order; PNG is lossless


def test_normalisation_and_channel_order(outputs):
    raw = MtcnnPackedDataset(outputs["packed"], normalize="none")[5][0]
    assert raw.dtype == torch.uint8 and raw.shape == (3, 12, 12)
    mtcnn = MtcnnPackedDataset(outputs["packed"])[5][0]
    assert mtcnn.dtype == torch.float32
    assert torch.equal(mtcnn, (raw.float() - 127.5) / 128)
    unit_rgb = MtcnnPackedDataset(outputs["packed"], normalize="unit", channels="rgb")[5][0]
    assert torch.allclose(unit_rgb, raw.flip(0).float() / 255)
    first = next(read_mtcnn(outputs["packed"]))["image"]  # HWC BGR
    assert torch.equal(MtcnnPackedDataset(outputs["packed"], normalize="none")[0][0],
                       torch.from_numpy(first.transpose(2, 0, 1).copy()))
    with pytest.raises(ValueError, match="normalize must be one of"):
        MtcnnPackedDataset(outputs["packed"], normalize="imagenet")
    with pytest.raises(ValueError, match="layout 'wds'"):
        MtcnnPackedDataset(outputs["wds"])


def test_stored_channel_order_from_the_manifest_is_honoured(outputs, tmp_path):
    rgb_out = tmp_path / "rgb"
    shutil.copytree(outputs["packed"], rgb_out)
    manifest = json.loads((rgb_out / "manifest.json").read_text())
    (rgb_out / "manifest.json").write_text(json.dumps({**manifest, "channel_order": "rgb"}))
    stored = MtcnnPackedDataset(outputs["packed"], normalize="none")[4][0]
    assert torch.equal(MtcnnPackedDataset(rgb_out, normalize="none", channels="rgb")[4][0], stored)
    assert torch.equal(MtcnnPackedDataset(rgb_out, normalize="none", channels="bgr")[4][0], stored.flip(0))


def anchor_sample(members: dict) -> tuple[str, int]:
    """A top-level (picklable) decoder: the key and the number of priors of an anchors sample
    (``priors_per_level`` summed: stored by the dense and the sparse KEY.npz alike)."""
    return members["__key__"], int(np.load(io.BytesIO(members["npz"]))["priors_per_level"].sum())


def test_tar_shard_dataset_reads_an_anchors_output(tmp_path):
    out = tmp_path / "anchors"
    subprocess.run([sys.executable, "-m", "samplegen", "anchors", "--method", "ssd300", "--out", str(out),
                    "--no-progress"], check=True, capture_output=True)
    items = list(TarShardDataset(out, anchor_sample))
    assert [key for key, _ in items] == [s["key"] for s in read_anchors(out)]
    assert all(n == 8732 for _, n in items)  # SSD300's prior count


def test_items_labels_and_indexing(outputs):
    dataset = MtcnnPackedDataset(outputs["packed"])
    samples = list(read_mtcnn(outputs["packed"], images=False))
    for k in (0, 17, 90, -1):
        _, label, roi, landmark = dataset[k]
        assert label == samples[k]["cls"] and roi.tolist() == samples[k]["roi"].tolist()
        assert landmark.tolist() == samples[k]["landmark"].tolist()
    assert dataset.class_labels().tolist() == [s["cls"] for s in samples]
    with pytest.raises(IndexError):
        dataset[91]


def test_dataset_pickles_without_its_open_maps(outputs):
    dataset = MtcnnPackedDataset(outputs["packed"])
    dataset[3]
    clone = pickle.loads(pickle.dumps(dataset))
    assert clone._images == {} and torch.equal(clone[3][0], dataset[3][0])


def test_split_by_explicit_rank_and_workers_covers_every_sample_once(outputs):
    expected = expected_keys(outputs["wds-1-shard"])
    got = []
    for rank in range(2):
        dataset = MtcnnWdsDataset(outputs["wds-1-shard"], normalize="none", rank=rank, world_size=2)
        got.append(loaded_keys(dataset, "fork"))
    assert sorted(map(len, got)) == [45, 46] and sum(map(len, got)) == 91
    assert Counter(got[0] + got[1]) == Counter(expected)


def test_shuffled_shard_order_is_seeded_per_epoch(outputs):
    def keys(epoch, seed=0):
        dataset = MtcnnWdsDataset(outputs["wds"], normalize="none", shuffle_shards=True, seed=seed)
        dataset.set_epoch(epoch)
        return loaded_keys(dataset, None, workers=0)
    first = keys(0)
    assert first == keys(0) and Counter(first) == Counter(expected_keys(outputs["wds"]))
    assert first != keys(1) or first != keys(2)


@pytest.mark.parametrize("counts,participants", [([91], 4), ([5, 0, 7, 1], 3), ([2, 2], 5), ([10, 20, 30], 2), ([], 2)])
def test_participant_rows_split_every_row_once(counts, participants):
    seen, sizes = [], []
    for p in range(participants):
        rows = participant_rows(counts, p, participants)
        seen += [(position, r) for position, start, stop in rows for r in range(start, stop)]
        sizes.append(sum(stop - start for _, start, stop in rows))
    assert sorted(seen) == [(position, r) for position, n in enumerate(counts) for r in range(n)]
    assert max(sizes) - min(sizes) <= 1


def test_batch_quotas_largest_remainder():
    assert batch_quotas([1, 3, 1, 2], 7).tolist() == [1, 3, 1, 2]
    assert batch_quotas([1, 3, 1, 2], 64).tolist() == [9, 28, 9, 18]  # 9.14, 27.4, 9.14, 18.3 -> +1 to neg
    assert batch_quotas([1, 3, 1, 0], 10).tolist() == [2, 6, 2, 0]


def test_ratio_batch_sampler(outputs):
    labels = MtcnnPackedDataset(outputs["packed"]).class_labels()  # 13 pos, 39 neg, 13 part, 26 landmark
    sampler = RatioBatchSampler(labels, (1, 3, 1, 2), batch_size=14, seed=5)
    assert len(sampler) == 6  # each batch: 2 pos, 6 neg, 2 part, 4 landmark; pos has 13 -> 6 batches
    batches = list(sampler)
    assert batches == list(sampler)  # same epoch, same batches
    for batch in batches:
        assert [labels[i] for i in batch] == [POS] * 2 + [NEG] * 6 + [PART] * 2 + [LANDMARK] * 4
    flat = [i for batch in batches for i in batch]
    assert len(flat) == len(set(flat))
    sampler.set_epoch(1)
    assert list(sampler) != batches
    by_code = RatioBatchSampler(labels, {POS: 1, NEG: 1}, batch_size=4, seed=5)
    assert all(sorted(labels[i] for i in b) == [NEG, NEG, POS, POS] for b in by_code)
    with pytest.raises(ValueError, match="no sample"):
        RatioBatchSampler(np.full(10, NEG), (1, 3, 1, 2), batch_size=14)
    with pytest.raises(ValueError, match="larger batch"):
        RatioBatchSampler(labels, (1, 30, 1, 2), batch_size=8)
    loader = DataLoader(MtcnnPackedDataset(outputs["packed"]), batch_sampler=sampler, num_workers=0)
    assert [len(b[1]) for b in loader] == [14] * 6
    assert set(CLASS_ORDER) == {POS, NEG, PART, LANDMARK}
