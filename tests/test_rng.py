"""rng: one reproducible generator per (seed, image key), independent of the process."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np

from samplegen.rng import rng_for, stable_key_hash


def test_key_hash_is_sha256_words():
    digest = hashlib.sha256("0--Parade/a.jpg".encode()).digest()
    assert stable_key_hash("0--Parade/a.jpg") == tuple(int.from_bytes(digest[i:i + 4], "little")
                                                       for i in range(0, 16, 4))


def test_streams_are_reproducible_and_distinct():
    a = rng_for(3, "img").integers(0, 1 << 30, 8)
    assert np.array_equal(a, rng_for(3, "img").integers(0, 1 << 30, 8))
    for other in (rng_for(4, "img"), rng_for(3, "img2"), rng_for(3, "img", stream=1)):
        assert not np.array_equal(a, other.integers(0, 1 << 30, 8))


def test_same_numbers_in_another_process():
    code = "from samplegen.rng import rng_for; print(rng_for(7, 'faces/x.jpg').integers(0, 1 << 40, 4).tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(rng_for(7, "faces/x.jpg").integers(0, 1 << 40, 4).tolist())
