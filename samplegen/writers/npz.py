"""Deterministic ``.npy``/``.npz`` bytes.

`numpy.savez` stamps each zip entry with the current local time, so two identical runs differ
in bytes. These helpers write the same array format with a fixed timestamp (1980-01-01, the zip
epoch) and sorted-as-given member order; `numpy.load` reads them as usual.
"""
from __future__ import annotations

import io
import zipfile
from typing import Mapping

import numpy as np

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` file bytes of `array` (no pickling allowed)."""
    buffer = io.BytesIO()
    # np.ascontiguousarray would turn a 0-d array (a scalar such as neg_budget) into shape (1,).
    np.lib.format.write_array(buffer, np.asarray(array, order="C"), allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(arrays: Mapping[str, np.ndarray], compress: bool = False) -> bytes:
    """The ``.npz`` bytes holding `arrays` in the given order, byte-identical across runs."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    # Level 1: label arrays are mostly runs of zeros, so the fastest deflate level already
    # gets nearly all of the gain (level 6 cost ~18% of an FPN labelling run).
    with zipfile.ZipFile(buffer, "w", compression=method, compresslevel=1 if compress else None) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            archive.writestr(info, npy_bytes(np.asarray(array)))
    return buffer.getvalue()
