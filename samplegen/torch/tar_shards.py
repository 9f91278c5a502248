"""Iterable Datasets over samplegen's WebDataset tar shards, split by node and DataLoader worker.

Splitting (`participant_rows`): the P = world_size x num_workers readers ("participants",
``p = rank * num_workers + worker_id``) cut the output's N samples, taken in shard order (or a
seeded shard order with ``shuffle_shards``), into P contiguous ranges ``[p N // P, (p + 1) N // P)``.
Each sample is delivered exactly once, the ranges differ by at most one sample (no DDP rank
runs out early), and a participant opens only the shards its range touches — with fewer shards
than participants, several read different rows of one shard (WebDataset's ``split_by_worker``
instead raises or leaves workers idle). The per-shard counts come from ``manifest.json``.
"""
from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from samplegen.rng import rng_for
from samplegen.torch.images import check_image_options, to_chw
from samplegen.torch.manifest_shards import manifest_shards

SHARD_ORDER_KEY = "torch-tar-shard-order"
"""Key of the shard-order generator: ``rng_for(seed, SHARD_ORDER_KEY, stream=epoch)``."""
IMAGE_MEMBERS = ("png", "jpg")


def participant_rows(counts: Sequence[int], participant: int, participants: int) -> list[tuple[int, int, int]]:
    """The rows participant `participant` of `participants` reads: ``(shard position, start, stop)``.

    Args:
        counts: samples per shard, in reading order.
        participant: 0 <= participant < participants.
        participants: world_size x num_workers, >= 1.

    Returns:
        Half-open row ranges per shard position, in order; their union over all participants is
        every row once, and the totals of two participants differ by at most one.
    """
    if not 0 <= participant < participants:
        raise ValueError(f"participant {participant} not in [0, {participants})")
    total = int(sum(counts))
    lo, hi = participant * total // participants, (participant + 1) * total // participants
    out, offset = [], 0
    for position, count in enumerate(counts):
        start, stop = max(lo - offset, 0), min(hi - offset, count)
        if start < stop:
            out.append((position, start, stop))
        offset += count
    return out


def tar_rows(path: Path, start: int, stop: int) -> Iterator[dict[str, bytes]]:
    """Samples ``start <= row < stop`` of a tar shard: ``{ext: bytes, "__key__": key}`` each.

    A sample is the run of adjacent members sharing a key (the member name up to the first dot
    of its base name, WebDataset's rule); members of skipped rows are passed over unread.
    """
    with tarfile.open(path, "r:") as archive:
        row, key, group = -1, None, {}
        for member in archive:
            if not member.isfile():
                continue
            folder, _, base = member.name.rpartition("/")
            stem, _, ext = base.partition(".")
            name = f"{folder}/{stem}" if folder else stem
            if name != key:
                if group:
                    yield group
                row, key, group = row + 1, name, {}
                if row >= stop:
                    return
            if row >= start:
                group["__key__"] = name
                group[ext] = archive.extractfile(member).read()
        if group:
            yield group


@dataclass(frozen=True)
class MtcnnTarDecoder:
    """``wds`` MTCNN members -> ``(image, label, roi, landmark)`` as `MtcnnPackedDataset` gives.

    The PNG/JPEG is decoded with OpenCV (BGR) and converted by `to_chw(normalize, channels)`;
    ``roi``/``landmark`` null in ``KEY.json`` become zeros, as in the packed columns.
    """

    normalize: str = "mtcnn"
    channels: str = "bgr"

    def __call__(self, members: dict[str, bytes]) -> tuple[torch.Tensor, int, torch.Tensor, torch.Tensor]:
        meta = json.loads(members["json"])
        encoded = next(members[ext] for ext in IMAGE_MEMBERS if ext in members)
        image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
        roi = torch.tensor(meta["roi"] or [0.0] * 4, dtype=torch.float32)
        landmark = torch.tensor(meta["landmark"] or [0.0] * 10, dtype=torch.float32)
        return to_chw(image, self.normalize, self.channels), int(meta["cls"]), roi, landmark


class TarShardDataset(IterableDataset):
    """Every sample of a samplegen tar-shard output (``mtcnn --layout wds`` or ``anchors``), once.

    Args:
        out_dir: the output folder (its ``manifest.json`` lists the complete shards and counts).
        decode: picklable callable (a top-level function or an object such as `MtcnnTarDecoder`)
            from ``{ext: bytes, "__key__": key}`` to the item yielded.
        rank, world_size: this node's place; default: `torch.distributed` when initialised
            (resolved in the process that pickles or iterates the dataset), else 0 of 1.
        shuffle_shards: read shards in an order drawn per epoch (`set_epoch`) from
            ``rng_for(seed, SHARD_ORDER_KEY, stream=epoch)``, the same on every node; samples
            within a participant's range keep their order.
        seed: seed of the shard order.
    """

    def __init__(self, out_dir: str | Path, decode: Callable[[dict[str, bytes]], Any], *,
                 rank: int | None = None, world_size: int | None = None,
                 shuffle_shards: bool = False, seed: int = 0) -> None:
        if (rank is None) != (world_size is None):
            raise ValueError("give both rank and world_size, or neither")
        if world_size is not None and not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} not in [0, {world_size})")
        self.out_dir = Path(out_dir)
        shards = manifest_shards(self.out_dir, ("wds",)).shards
        self.files = [s.files[0] for s in shards]
        self.counts = [s.samples for s in shards]
        self.decode = decode
        self.node = None if rank is None else (rank, world_size)
        self.shuffle_shards = shuffle_shards
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the shard order of `epoch` (call before each epoch, as with DistributedSampler)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        """Samples in the whole output (over all nodes and workers)."""
        return int(sum(self.counts))

    def __iter__(self) -> Iterator[Any]:
        rank, world_size = self._node()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        order = np.arange(len(self.files))
        if self.shuffle_shards:
            order = rng_for(self.seed, SHARD_ORDER_KEY, stream=self.epoch).permutation(len(self.files))
        counts = [self.counts[i] for i in order]
        for position, start, stop in participant_rows(counts, rank * workers + worker, world_size * workers):
            for members in tar_rows(self.out_dir / self.files[order[position]], start, stop):
                yield self.decode(members)

    def __getstate__(self) -> dict:
        # Pickled for spawn/forkserver workers in the parent: fix the node there, where
        # torch.distributed is initialised (a spawned worker has no process group).
        state = self.__dict__.copy()
        state["node"] = self._node()
        return state

    def _node(self) -> tuple[int, int]:
        if self.node is not None:
            return self.node
        distributed = torch.distributed
        if distributed.is_available() and distributed.is_initialized():
            return distributed.get_rank(), distributed.get_world_size()
        return 0, 1


class MtcnnWdsDataset(TarShardDataset):
    """Every sample of a ``samplegen mtcnn --layout wds`` output as ``(image, label, roi, landmark)``.

    Items are those of `MtcnnPackedDataset` (same normalisation and channel arguments, same
    tensors for the same crop: PNG is lossless); splitting and options as `TarShardDataset`.
    """

    def __init__(self, out_dir: str | Path, normalize: str = "mtcnn", channels: str = "bgr", *,
                 rank: int | None = None, world_size: int | None = None,
                 shuffle_shards: bool = False, seed: int = 0) -> None:
        check_image_options(normalize, channels)
        super().__init__(out_dir, MtcnnTarDecoder(normalize, channels), rank=rank, world_size=world_size,
                         shuffle_shards=shuffle_shards, seed=seed)
