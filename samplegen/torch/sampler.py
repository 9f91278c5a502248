"""`RatioBatchSampler`: batches drawn in a fixed class ratio, deterministic per epoch.

For outputs kept unbalanced (``samplegen mtcnn --balance keep``: every planned sample, the
ratio recorded in the manifest), this does at training time what AITTSMD's
``read_multi_tfrecords`` does with one queue per class: each batch holds ``k_c`` samples of
class ``c``, ``k`` the largest-remainder split of ``batch_size`` by the ratio.
`RatioBatchSampler.from_output` reads the ratio and the labels from a ``packed`` output folder::

    data = MtcnnPackedDataset("out/pnet")
    loader = DataLoader(data, batch_sampler=RatioBatchSampler.from_output("out/pnet", 384))
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
from torch.utils.data import Sampler

from samplegen.mtcnn.labels import CLASS_NAMES, CLASS_ORDER
from samplegen.rng import rng_for

RATIO_KEY = "torch-ratio-batches"
"""Key of the epoch generators: ``rng_for(seed, RATIO_KEY, stream=epoch)``."""


def batch_quotas(ratio: Sequence[float], batch_size: int) -> np.ndarray:
    """int64 [C] samples per class in a batch: floors of ``batch_size * w / sum(w)``, the rest
    given one each to the largest fractional parts (ties to the earlier class)."""
    weights = np.asarray(ratio, np.float64)
    if weights.ndim != 1 or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"ratio must be non-negative weights with a positive sum, got {list(ratio)}")
    exact = batch_size * weights / weights.sum()
    quotas = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quotas), kind="stable")
    quotas[order[:batch_size - int(quotas.sum())]] += 1
    return quotas


class RatioBatchSampler(Sampler[list[int]]):
    """Index batches with a fixed number of samples per class, without replacement in an epoch.

    Epoch ``e`` (`set_epoch`) permutes each class's indices with ``rng_for(seed, RATIO_KEY,
    stream=e)`` (one permutation per class, in `CLASS_ORDER`) and cuts batch ``b`` from rows
    ``b k_c ... (b + 1) k_c - 1`` of each; a batch lists its classes in `CLASS_ORDER`. The epoch
    ends when the scarcest class (relative to its quota) runs out: ``len(self)`` batches, the
    other classes' remaining samples unused that epoch (a different subset the next one).

    Args:
        labels: int [N] class code of each dataset index (`MtcnnPackedDataset.class_labels`).
        ratio: weights in `CLASS_ORDER` (pos, neg, part, landmark), e.g. ``(1, 3, 1, 2)``, or
            ``{class code: weight}``; classes with weight 0 are never drawn.
        batch_size: samples per batch; every class with a positive weight must get at least one.
        seed: the seed of every epoch's generator.
    """

    def __init__(self, labels: np.ndarray | Sequence[int], ratio: Sequence[float] | Mapping[int, float],
                 batch_size: int, seed: int = 0) -> None:
        super().__init__()
        labels = np.asarray(labels)
        weights = [ratio.get(code, 0) for code in CLASS_ORDER] if isinstance(ratio, Mapping) else list(ratio)
        if len(weights) != len(CLASS_ORDER):
            raise ValueError(f"ratio needs {len(CLASS_ORDER)} weights (pos, neg, part, landmark), got {weights}")
        self.quotas = batch_quotas(weights, batch_size)
        starved = [code for code, w, q in zip(CLASS_ORDER, weights, self.quotas) if w > 0 and q == 0]
        if starved:
            raise ValueError(f"batch_size {batch_size} leaves classes {starved} no sample; use a larger batch")
        self.pools = [np.flatnonzero(labels == code) for code in CLASS_ORDER]
        empty = [code for code, q, pool in zip(CLASS_ORDER, self.quotas, self.pools) if q and not len(pool)]
        if empty:
            raise ValueError(f"classes {empty} have a positive ratio but no sample")
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    @classmethod
    def from_output(cls, out_dir: str | Path, batch_size: int, seed: int = 0) -> "RatioBatchSampler":
        """The sampler of a ``samplegen mtcnn --layout packed`` output: its labels (in
        `MtcnnPackedDataset` index order) and the ratio its manifest records (``plan.balance.ratio``
        for ``--balance keep|oversample|aittsmd``, else the configuration's ``ratio``; a class
        the run planned none of, such as landmarks without a landmark source, gets weight 0)."""
        from samplegen.outputs.shards import output_manifest
        from samplegen.torch.packed import MtcnnPackedDataset

        manifest = output_manifest(out_dir, "mtcnn")
        plan = manifest.get("plan", {})
        ratio = list(plan.get("balance", {}).get("ratio") or manifest["config"]["ratio"])
        available = plan.get("available", {})
        weights = [0 if available.get(name, 1) == 0 else w
                   for name, w in zip((CLASS_NAMES[code] for code in CLASS_ORDER), ratio)]
        return cls(MtcnnPackedDataset(out_dir).class_labels(), weights, batch_size, seed)

    def set_epoch(self, epoch: int) -> None:
        """Select the batches of `epoch`."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return int(min(len(pool) // q for pool, q in zip(self.pools, self.quotas) if q))

    def __iter__(self) -> Iterator[list[int]]:
        rng = rng_for(self.seed, RATIO_KEY, stream=self.epoch)
        shuffled = [pool[rng.permutation(len(pool))] for pool in self.pools]
        for b in range(len(self)):
            batch = np.concatenate([pool[b * q:(b + 1) * q] for pool, q in zip(shuffled, self.quotas)])
            yield batch.tolist()
