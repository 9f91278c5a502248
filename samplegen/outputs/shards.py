"""What every output reader shares: the manifest of a command's output and WebDataset tar groups."""
from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from samplegen.engine.manifest import read_manifest
from samplegen.engine.storage import is_remote, local_path
from samplegen.engine.verify import damaged_shard, require_intact_size
from samplegen.errors import ConfigError

READ_ERRORS = (tarfile.TarError, EOFError, ValueError, zipfile.BadZipFile, KeyError, OSError)
"""What a damaged shard raises deep in a parser (tar, npz, npy, TFRecord framing, JSON)."""


def output_folder(out_dir: str | Path) -> Path:
    """The local folder of an output given as a path or ``file://`` URL.

    Raises:
        ConfigError: an object-storage URL: readers open files by path, so copy it first.
    """
    if is_remote(out_dir):
        raise ConfigError(f"{out_dir}: outputs are read from a local folder; copy it first "
                          "(e.g. aws s3 sync URL DIR, or samplegen verify URL to check it in place)")
    return local_path(out_dir)


def output_manifest(out_dir: Path, command: str) -> dict:
    manifest = read_manifest(output_folder(out_dir))
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
