"""What every output reader shares: the manifest of a command's output and WebDataset tar groups."""
from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from samplegen.engine.manifest import read_manifest
from samplegen.engine.verify import damaged_shard, require_intact_size
from samplegen.errors import ConfigError

READ_ERRORS = (tarfile.TarError, EOFError, ValueError, zipfile.BadZipFile, KeyError, OSError)
"""What a damaged shard raises deep in a parser (tar, npz, npy, TFRecord framing, JSON)."""


def output_manifest(out_dir: Path, command: str) -> dict:
    manifest = read_manifest(Path(out_dir))
    if manifest is None or manifest.get("command") != command:
        raise ConfigError(f"{out_dir}: no samplegen {command} output (manifest.json missing or of another command)")
    return manifest


def tar_groups(path: Path) -> Iterator[dict]:
    with tarfile.open(path) as archive:
        group: dict = {}
        for member in archive:
            key, _, ext = member.name.partition(".")
            if group and group["__key__"] != key:
                yield group
                group = {}
            group["__key__"] = key
            group[ext] = archive.extractfile(member).read()
        if group:
            yield group


def shard_samples(out_dir: Path, shard: Mapping[str, Any], samples: Iterator[dict]) -> Iterator[dict]:
    """`samples` of one listed shard, after checking its files' sizes against the manifest; a
    shard that is truncated, missing or unreadable is named as damaged (`RunError`), not left to
    fail as a parser's traceback."""
    files = [require_intact_size(out_dir, f) for f in shard["files"]]
    try:
        yield from samples
    except READ_ERRORS as exc:
        raise damaged_shard(files[0], f"{type(exc).__name__}: {exc}") from None
