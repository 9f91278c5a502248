"""What every writer shares: shard names, committed-file records and write-then-rename.

A shard is never visible under its final name until it is complete: bytes go to a hidden
temporary file in the same folder (same filesystem, so the rename is atomic), are flushed and
fsynced, then `os.replace`d. A run killed at any moment leaves only complete shards and
temporary files that the next run removes. Temporary names carry the host, the process id and
a random part (``.NAME.tmp-HOST-PID-RANDOM``), so writers on several machines sharing a folder
(a cluster engine) never collide.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

TEMP_MARK = ".tmp-"
# Names samplegen writes at the top of an output folder: shards (`shard_name`, any suffix) and
# the files a job's `finalize` merges from them (``pos_12.txt``, ``train_PNet_landmark...``),
# which are plain names. Checked against a manifest's records, so that a hand-edited or hostile
# manifest cannot point a run at a path outside the folder or inside a subfolder.
SHARD_PATTERN = re.compile(r"[A-Za-z0-9_]+-\d{6}(\.[A-Za-z0-9_]+)*")
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")


def shard_name(prefix: str, index: int, suffix: str) -> str:
    """``PREFIX-000042.tar``: the one place the shard name format lives."""
    return f"{prefix}-{index:06d}{suffix}"


def is_shard_name(name: str) -> bool:
    """Whether `name` is a top-level shard file or folder name (``PREFIX-000042[.SUFFIX...]``)."""
    return SHARD_PATTERN.fullmatch(name) is not None


def is_plain_name(name: str) -> bool:
    """Whether `name` is a plain top-level file name (no folder part, not hidden, not ``..``)."""
    return PLAIN_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class ShardFile:
    """A committed file: name relative to the output folder, size and SHA-256."""

    name: str
    bytes: int
    sha256: str

    def as_json(self) -> dict:
        return {"name": self.name, "bytes": self.bytes, "sha256": self.sha256}


def _naming(exc: OSError, path: Path) -> OSError:
    """`exc` naming `path` (the final name: the user never chose the temporary one, and a failed
    write or fsync names no file at all)."""
    if exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


class HashingFile:
    """A binary file opened under a temporary name that hashes what is written to it.

    An `OSError` (disk full, I/O error) names the final path; `abort` removes the temporary
    file even when closing it fails too (a full disk fails the buffered flush again).
    """

    def __init__(self, final_path: Path) -> None:
        self.final_path = Path(final_path)
        self.temp_path = temp_path_for(self.final_path)
        try:
            self._file: BinaryIO = open(self.temp_path, "wb")
        except OSError as exc:
            raise _naming(exc, self.final_path) from None
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._file.write(data)
        except OSError as exc:
            raise _naming(exc, self.final_path) from None
        self._hash.update(data)
        self.size += len(data)

    def commit(self, root: Path, durable: bool = True) -> ShardFile:
        """Flush, fsync (unless not `durable`) and rename to the final name; returns its record
        relative to `root`."""
        try:
            self._file.flush()
            if durable:
                os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.temp_path, self.final_path)
        except OSError as exc:
            raise _naming(exc, self.final_path) from None
        return ShardFile(self.final_path.relative_to(root).as_posix(), self.size, self._hash.hexdigest())

    def abort(self) -> None:
        try:
            if not self._file.closed:
                self._file.close()
        except OSError:
            pass  # the buffered tail could not be written: the file is being removed anyway
        finally:
            self.temp_path.unlink(missing_ok=True)


def _host_tag() -> str:
    host = socket.gethostname().split(".")[0]
    return re.sub(r"[^A-Za-z0-9_]", "_", host)[:32] or "host"


def temp_path_for(final_path: Path) -> Path:
    """Hidden sibling temporary name, unique per host, process and call:
    ``.NAME.tmp-HOST-PID-RANDOM``."""
    tag = f"{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}"
    return final_path.with_name(f".{final_path.name}{TEMP_MARK}{tag}")


def is_temporary_name(name: str) -> bool:
    """Whether `name` is one of `temp_path_for`'s names."""
    return name.startswith(".") and TEMP_MARK in name


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


def write_bytes_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write a small file (manifest, list) atomically; `durable=False` skips the fsync, for a
    file whose loss in a power cut costs only work (whole or absent still holds after a crash
    of the process; after a power cut it may also be empty, which its reader must pass over)."""
    target = HashingFile(Path(path))
    try:
        target.write(data)
        target.commit(Path(path).parent, durable)
    except BaseException:
        target.abort()
        raise


def remove_entry(path: Path) -> None:
    """Delete a file, a symlink (never what it points to) or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def remove_temporaries(folder: Path) -> int:
    """Delete temporary files left by an interrupted run; returns how many were removed."""
    removed = 0
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if is_temporary_name(path.name):
                remove_entry(path)
                removed += 1
    return removed
