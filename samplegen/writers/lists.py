"""The classic MTCNN layout: image files in class folders plus text lists, for existing trainers.

Each shard is a folder ``PREFIX-000000/`` holding ``<folder>/<name>.<ext>`` files and its own list
files (``pos_12.txt``, ...), lines naming images relative to the output folder. The folder is
built under a temporary name and renamed when complete, so it appears whole or not at all;
`merge_lists` then concatenates the shards' lists, in shard order, into the top-level lists
(each line's path optionally prefixed, e.g. by the output folder's absolute path), and
`concatenate_files` joins top-level lists into one.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Sequence

from samplegen.writers.base import ShardFile, folder_digest, temp_path_for, write_bytes_atomic


class ListShardWriter:
    """One shard folder: ``add(list_name, relative_path, data, fields)`` per sample, then commit."""

    def __init__(self, root: Path, stem: str) -> None:
        self.root = Path(root)
        self.stem = stem
        self.final = self.root / stem
        self.temp = temp_path_for(self.final)
        shutil.rmtree(self.temp, ignore_errors=True)
        self.temp.mkdir(parents=True)
        self._lines: dict[str, list[str]] = {}
        self._made: set[str] = set()
        self.samples = 0

    def add(self, list_name: str, relative_path: str, data: bytes, fields: str) -> None:
        """Write image bytes at ``STEM/relative_path`` and the line ``STEM/relative_path fields``."""
        folder = relative_path.rpartition("/")[0]
        if folder and folder not in self._made:
            (self.temp / folder).mkdir(parents=True, exist_ok=True)
            self._made.add(folder)
        (self.temp / relative_path).write_bytes(data)
        line = f"{self.stem}/{relative_path} {fields}".rstrip()
        self._lines.setdefault(list_name, []).append(line + "\n")
        self.samples += 1

    def commit(self, list_names: Sequence[str]) -> list[ShardFile]:
        """Write the shard's lists (every name in `list_names`, empty ones too) and publish it."""
        for name in list_names:
            (self.temp / name).write_text("".join(self._lines.get(name, [])), encoding="utf-8")
        if self.final.exists():
            shutil.rmtree(self.final)
        os.replace(self.temp, self.final)
        return [directory_record(self.root, self.final)]

    def abort(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)


def directory_record(root: Path, folder: Path) -> ShardFile:
    """A folder as one manifest entry: total bytes and `folder_digest`'s SHA-256."""
    total, digest = folder_digest(folder)
    return ShardFile(folder.relative_to(root).as_posix(), total, digest)


def merge_lists(root: Path, stems: Sequence[str], list_names: Sequence[str], prefix: str = "") -> list[ShardFile]:
    """Concatenate each shard's lists into ``root/<list name>``, atomically, in shard order.

    `prefix` is put before every line (``"/abs/out/"`` turns ``STEM/positive/000001.png ...``
    into an absolute path); ``""`` keeps the shards' bytes.
    """
    merged = []
    for name in list_names:
        data = b"".join((root / stem / name).read_bytes() for stem in stems)
        if prefix and data:
            head = prefix.encode("utf-8")
            data = b"".join(head + line for line in data.splitlines(keepends=True))
        merged.append(_write_list(root, name, data))
    return merged


def concatenate_files(root: Path, names: Sequence[str], target: str) -> ShardFile:
    """``root/target`` = the files ``root/<name>`` back to back, in order, written atomically."""
    return _write_list(root, target, b"".join((root / name).read_bytes() for name in names))


def _write_list(root: Path, name: str, data: bytes) -> ShardFile:
    write_bytes_atomic(root / name, data)
    return ShardFile(name, len(data), hashlib.sha256(data).hexdigest())
