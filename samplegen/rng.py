"""Per-image random generators that do not depend on worker count or scheduling order.

Each image gets ``Generator(PCG64(SeedSequence(seed, spawn_key=stable_hash(key))))``: NumPy's
documented way to derive independent, reproducible streams. The key hash is SHA-256 based, never
Python's ``hash()`` (salted per process).
"""
from __future__ import annotations

import hashlib

import numpy as np


def stable_key_hash(key: str) -> tuple[int, ...]:
    """Four 32-bit words of SHA-256(key), stable across processes, platforms and versions."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def rng_for(seed: int, key: str, stream: int = 0) -> np.random.Generator:
    """The generator of image `key` under `seed`; `stream` separates independent uses of one image."""
    sequence = np.random.SeedSequence(seed, spawn_key=stable_key_hash(key) + (stream,))
    return np.random.Generator(np.random.PCG64(sequence))
