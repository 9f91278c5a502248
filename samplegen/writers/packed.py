"""Packed array shards: ``PREFIX-000000.images.npy`` + ``PREFIX-000000.labels.npz``.

Tiny crops are cheapest as one uint8 array per shard (~2 us per sample to pack, no per-file
overhead) and `np.load(mmap_mode="r")` lets a trainer shuffle globally without reading a shard
whole. The labels file holds one array per field, row-aligned with the images.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping

import numpy as np

from samplegen.writers.base import HashingFile, ShardFile
from samplegen.writers.npz import npz_bytes

IMAGES_SUFFIX = ".images.npy"
LABELS_SUFFIX = ".labels.npz"


class PackedShardWriter:
    """Collects batches of images and label columns; writes both files on commit.

    Args:
        root: output folder.
        stem: shard name without suffix (``PREFIX-000000``).
        image_shape: (S, S, 3) of every image, so an empty shard still has the right shape.
        extra: shard-level arrays stored in the labels file after the columns (e.g. `sources`).
    """

    def __init__(self, root: Path, stem: str, image_shape: tuple[int, ...]) -> None:
        self.root = Path(root)
        self.stem = stem
        self.image_shape = tuple(image_shape)
        self._images: list[np.ndarray] = []
        self._columns: dict[str, list[np.ndarray]] = {}
        self.samples = 0

    def add_batch(self, images: np.ndarray, columns: Mapping[str, np.ndarray]) -> None:
        """Append K samples: images uint8 [K, *image_shape] and columns with leading dim K."""
        if images.shape[1:] != self.image_shape:
            raise ValueError(f"image shape {images.shape[1:]} != {self.image_shape}")
        for name, values in columns.items():
            if len(values) != len(images):
                raise ValueError(f"column {name} has {len(values)} rows for {len(images)} images")
            self._columns.setdefault(name, []).append(np.asarray(values))
        self._images.append(images)
        self.samples += len(images)

    def commit(self, extra: Mapping[str, np.ndarray] | None = None,
               empty_columns: Mapping[str, np.ndarray] | None = None) -> list[ShardFile]:
        """Write both files atomically; `empty_columns` gives dtype/shape templates for 0 rows.

        The images are streamed batch by batch after the ``.npy`` header, never concatenated:
        a crowded shard of 48x48 crops would otherwise sit in memory several times over.
        """
        images = HashingFile(self.root / f"{self.stem}{IMAGES_SUFFIX}")
        try:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                      "shape": (self.samples, *self.image_shape)}
            buffer = io.BytesIO()
            np.lib.format.write_array_header_1_0(buffer, header)
            images.write(buffer.getvalue())
            for batch in self._images:
                images.write(memoryview(np.ascontiguousarray(batch, np.uint8)).cast("B"))
            files = [images.commit(self.root)]
        except BaseException:
            images.abort()
            raise
        columns = {name: np.concatenate(parts) for name, parts in self._columns.items()}
        for name, template in (empty_columns or {}).items():
            columns.setdefault(name, template)
        columns.update(extra or {})
        labels = HashingFile(self.root / f"{self.stem}{LABELS_SUFFIX}")
        labels.write(npz_bytes(columns))
        files.append(labels.commit(self.root))
        return files

    def abort(self) -> None:
        self._images.clear()
        self._columns.clear()
