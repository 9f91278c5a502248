"""What every output reader shares: the manifest of a command's output and WebDataset tar groups."""
from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Iterator

from samplegen.engine.manifest import read_manifest
from samplegen.errors import ConfigError


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
