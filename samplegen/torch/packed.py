"""`MtcnnPackedDataset`: a map-style Dataset over the ``packed`` MTCNN layout.

Safe under every DataLoader start method (fork, spawn, forkserver) because it holds no open
file between items: the constructor reads only ``manifest.json``; each process opens what it
touches on first use and keeps

- the shard's ``.images.npy`` as a read-only `np.memmap` (no file handle: numpy closes the file
  once mapped; a map inherited through fork stays valid and read-only);
- the shard's ``cls``/``roi``/``landmark`` columns as plain arrays, read once from the ``.npz``
  and the zip closed at once.

Keeping an `np.load(npz)` (`NpzFile`) open instead, as the README's snippet did, shares one zip
file offset between forked workers (``BadZipFile: Bad CRC-32``) and cannot be pickled for spawn
(``cannot pickle '_io.BufferedReader'``). Pickling drops the per-process caches.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from samplegen.torch.images import check_image_options, to_chw
from samplegen.torch.manifest_shards import manifest_shards

Sample = tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]
LABEL_COLUMNS = ("cls", "roi", "landmark")


class MtcnnPackedDataset(Dataset):
    """Every sample of a ``samplegen mtcnn --layout packed`` output, in output order.

    Item ``k`` is ``(image, label, roi, landmark)``:

    - image: [3, S, S] tensor, float32 (``normalize="mtcnn"``: ``(x - 127.5) / 128``, or
      ``"unit"``: ``x / 255``) or uint8 (``"none"``), in ``channels`` order (``"bgr"`` or
      ``"rgb"``; the arrays are BGR unless the manifest's ``channel_order`` says otherwise);
      see `samplegen.torch.images`;
    - label: int class code (1 pos, 0 neg, -1 part, -2 landmark; `samplegen.mtcnn.labels`);
    - roi: float32 [4] regression targets (zeros for negatives);
    - landmark: float32 [10] ``x1 y1 ... x5 y5`` in the crop (zeros except landmark samples).

    Args:
        out_dir: the output folder (its ``manifest.json`` lists the complete shards).
        normalize: ``"mtcnn"`` (default), ``"unit"`` or ``"none"``.
        channels: ``"bgr"`` (default) or ``"rgb"``.

    Example::

        data = MtcnnPackedDataset("out/pnet")
        loader = torch.utils.data.DataLoader(data, batch_size=384, shuffle=True, num_workers=2)
    """

    def __init__(self, out_dir: str | Path, normalize: str = "mtcnn", channels: str = "bgr") -> None:
        check_image_options(normalize, channels)
        self.out_dir = Path(out_dir)
        self.normalize = normalize
        self.channels = channels
        output = manifest_shards(self.out_dir, ("packed",))
        self.stored_channels = output.channel_order
        check_image_options(normalize, self.stored_channels)
        shards = output.shards
        self.files = [(s.files[0], s.files[1]) for s in shards]
        self.ends = np.cumsum([s.samples for s in shards], dtype=np.int64)
        self._images: dict[int, np.ndarray] = {}
        self._labels: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return int(self.ends[-1]) if len(self.ends) else 0

    def __getitem__(self, index: int) -> Sample:
        shard, row = self._locate(np.asarray([index]))
        return self._rows(int(shard[0]), row)[0]

    def __getitems__(self, indices: Sequence[int]) -> list[Sample]:
        """A batch at once (DataLoader calls this with auto-batching): one fancy index and one
        normalisation per shard touched instead of one per sample; same items as `__getitem__`."""
        shards, rows = self._locate(np.asarray(indices))
        out: list[Any] = [None] * len(rows)
        for shard in np.unique(shards):
            where = np.flatnonzero(shards == shard)
            for position, sample in zip(where, self._rows(int(shard), rows[where])):
                out[position] = sample
        return out

    def class_labels(self) -> np.ndarray:
        """int8 [N] class code of every sample, in index order (for `RatioBatchSampler`)."""
        parts = [self._shard_labels(i)["cls"] for i in range(len(self.files))]
        return np.concatenate(parts) if parts else np.zeros(0, np.int8)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_images"], state["_labels"] = {}, {}
        return state

    def _locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shard, row) int64 arrays of global `indices` (negative ones count from the end)."""
        n = len(self)
        indices = indices.astype(np.int64)
        indices = np.where(indices < 0, indices + n, indices)
        if indices.size and (indices.min() < 0 or indices.max() >= n):
            raise IndexError(f"index out of range for {n} samples")
        shards = np.searchsorted(self.ends, indices, side="right")
        starts = np.where(shards > 0, self.ends[np.maximum(shards - 1, 0)], 0)
        return shards, indices - starts

    def _rows(self, shard: int, rows: np.ndarray) -> list[Sample]:
        images = to_chw(self._shard_images(shard)[rows], self.normalize, self.channels, self.stored_channels)
        labels = self._shard_labels(shard)
        roi = torch.from_numpy(labels["roi"][rows])
        landmark = torch.from_numpy(labels["landmark"][rows])
        # unbind: one call for all the per-sample views (indexing a tensor costs ~3 us a time)
        return list(zip(images.unbind(0), labels["cls"][rows].tolist(), roi.unbind(0), landmark.unbind(0)))

    def _shard_images(self, shard: int) -> np.ndarray:
        if shard not in self._images:
            self._images[shard] = np.load(self.out_dir / self.files[shard][0], mmap_mode="r")
        return self._images[shard]

    def _shard_labels(self, shard: int) -> dict[str, np.ndarray]:
        if shard not in self._labels:
            with np.load(self.out_dir / self.files[shard][1]) as npz:
                self._labels[shard] = {name: np.ascontiguousarray(npz[name]) for name in LABEL_COLUMNS}
            self._labels[shard]["roi"] = self._labels[shard]["roi"].astype(np.float32, copy=False)
            self._labels[shard]["landmark"] = self._labels[shard]["landmark"].astype(np.float32, copy=False)
        return self._labels[shard]
