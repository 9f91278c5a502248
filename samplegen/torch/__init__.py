"""PyTorch datasets over samplegen outputs (an optional extra: ``pip install samplegen[torch]``).

``import samplegen`` never imports this package (nor torch); import it explicitly::

    from samplegen.torch import MtcnnPackedDataset
    loader = DataLoader(MtcnnPackedDataset("out/pnet"), batch_size=384, shuffle=True, num_workers=2)

- `MtcnnPackedDataset`: map-style, over ``--layout packed`` (memory-mapped images);
- `MtcnnWdsDataset` / `TarShardDataset`: iterable, over ``--layout wds`` (and anchors) tar
  shards, split by node and DataLoader worker, every sample once;
- `RatioBatchSampler`: batches in a fixed class ratio, deterministic per epoch.

Items are ``(image, label, roi, landmark)``; images [3, S, S] with ``normalize="mtcnn"|"unit"|"none"``
and ``channels="bgr"|"rgb"`` (`samplegen.torch.images`).
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("samplegen.torch needs PyTorch: pip install 'samplegen[torch]'") from exc

from samplegen.torch.images import CHANNELS, NORMALIZE, to_chw
from samplegen.torch.packed import MtcnnPackedDataset
from samplegen.torch.sampler import RatioBatchSampler, batch_quotas
from samplegen.torch.tar_shards import MtcnnTarDecoder, MtcnnWdsDataset, TarShardDataset, participant_rows

__all__ = ["CHANNELS", "NORMALIZE", "MtcnnPackedDataset", "MtcnnTarDecoder", "MtcnnWdsDataset",
           "RatioBatchSampler", "TarShardDataset", "batch_quotas", "participant_rows", "to_chw"]
