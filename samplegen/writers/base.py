"""What every writer shares: shard names, committed-file records and write-then-rename.

A shard is never visible under its final name until it is complete: bytes go to a hidden
temporary file in the same folder (same filesystem, so the rename is atomic), are flushed and
fsynced, then `os.replace`d. A run killed at any moment leaves only complete shards and
temporary files that the next run removes.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TEMP_MARK = ".tmp-"


def shard_name(prefix: str, index: int, suffix: str) -> str:
    """``PREFIX-000042.tar``: the one place the shard name format lives."""
    return f"{prefix}-{index:06d}{suffix}"


@dataclass(frozen=True)
class ShardFile:
    """A committed file: name relative to the output folder, size and SHA-256."""

    name: str
    bytes: int
    sha256: str

    def as_json(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "sha256": self.sha256}


class HashingFile:
    """A binary file opened under a temporary name that hashes what is written to it."""

    def __init__(self, final_path: Path) -> None:
        self.final_path = Path(final_path)
        self.temp_path = temp_path_for(self.final_path)
        self._file: BinaryIO = open(self.temp_path, "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def commit(self, root: Path) -> ShardFile:
        """Flush, fsync and rename to the final name; returns its record relative to `root`."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.temp_path, self.final_path)
        return ShardFile(self.final_path.relative_to(root).as_posix(), self.size, self._hash.hexdigest())

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.temp_path.unlink(missing_ok=True)


def temp_path_for(final_path: Path) -> Path:
    """Hidden sibling temporary name, unique per process."""
    return final_path.with_name(f".{final_path.name}{TEMP_MARK}{os.getpid()}")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_digest(folder: Path) -> tuple[int, str]:
    """(total bytes, SHA-256) of a folder's files: the hash runs over the sorted relative names,
    each followed by NUL and the SHA-256 of its content, so names and contents both count."""
    digest, total = hashlib.sha256(), 0
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        total += path.stat().st_size
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(bytes.fromhex(sha256_file(path)))
    return total, digest.hexdigest()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a small file (manifest, list) atomically."""
    target = HashingFile(Path(path))
    try:
        target.write(data)
        target.commit(Path(path).parent)
    except BaseException:
        target.abort()
        raise


def remove_temporaries(folder: Path) -> int:
    """Delete temporary files left by an interrupted run; returns how many were removed."""
    removed = 0
    if folder.is_dir():
        for path in sorted(folder.glob(f".*{TEMP_MARK}*")):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
    return removed
