"""Packed array shards: ``PREFIX-000000.images.npy`` + ``PREFIX-000000.labels.npz``.

Tiny crops are cheapest as one uint8 array per shard (~2 us per sample to pack, no per-file
overhead) and `np.load(mmap_mode="r")` lets a trainer shuffle globally without reading a shard
whole. The labels file holds one array per field, row-aligned with the images.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO, Mapping

import numpy as np

from samplegen.writers.base import HashingFile, ShardFile, temp_path_for
from samplegen.writers.npz import npz_bytes

IMAGES_SUFFIX = ".images.npy"
LABELS_SUFFIX = ".labels.npz"
SPOOL_CHUNK = 1 << 22


class PackedShardWriter:
    """Spools batches of images to disk and collects label columns; writes both files on commit.

    The ``.npy`` header needs the final count, so image bytes go to a temporary spool file as
    they arrive and are copied behind the header on commit: a worker holds one batch of pixels,
    never a shard's (a crowded shard of 48x48 crops is tens of megabytes).

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
        self._spool_path = temp_path_for(self.root / f"{stem}{IMAGES_SUFFIX}.spool")
        self._spool: BinaryIO = open(self._spool_path, "w+b")
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
        if len(images):
            self._spool.write(memoryview(np.ascontiguousarray(images, np.uint8)).cast("B"))
        self.samples += len(images)

    def commit(self, extra: Mapping[str, np.ndarray] | None = None,
               empty_columns: Mapping[str, np.ndarray] | None = None) -> list[ShardFile]:
        """Write both files atomically; `empty_columns` gives dtype/shape templates for 0 rows."""
        images = HashingFile(self.root / f"{self.stem}{IMAGES_SUFFIX}")
        try:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                      "shape": (self.samples, *self.image_shape)}
            buffer = io.BytesIO()
            np.lib.format.write_array_header_1_0(buffer, header)
            images.write(buffer.getvalue())
            self._spool.seek(0)
            while chunk := self._spool.read(SPOOL_CHUNK):
                images.write(chunk)
            files = [images.commit(self.root)]
        except BaseException:
            images.abort()
            raise
        finally:
            self._close_spool()
        columns = {name: np.concatenate(parts) for name, parts in self._columns.items()}
        for name, template in (empty_columns or {}).items():
            columns.setdefault(name, template)
        columns.update(extra or {})
        labels = HashingFile(self.root / f"{self.stem}{LABELS_SUFFIX}")
        labels.write(npz_bytes(columns))
        files.append(labels.commit(self.root))
        return files

    def abort(self) -> None:
        self._close_spool()
        self._columns.clear()

    def _close_spool(self) -> None:
        self._spool.close()
        self._spool_path.unlink(missing_ok=True)
