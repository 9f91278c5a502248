"""The shards a written output lists as complete, read from its ``manifest.json``.

Only the manifest says which shards are whole (it is rewritten after each committed shard), so
the datasets never glob the folder: a shard still being written, or left by a killed run under a
temporary name, is never read.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from samplegen.engine.manifest import read_manifest
from samplegen.outputs.mtcnn import stored_channel_order


@dataclass(frozen=True)
class ShardEntry:
    """One complete shard: its files (relative to the output folder) and its sample count."""

    files: tuple[str, ...]
    samples: int


@dataclass(frozen=True)
class OutputShards:
    """What a dataset needs from a manifest: the command, the stored channel order of pixel
    arrays (`samplegen.outputs.mtcnn.stored_channel_order`) and the complete shards in order."""

    command: str
    channel_order: str
    shards: list[ShardEntry]


def manifest_shards(out_dir: str | Path, layouts: tuple[str, ...]) -> OutputShards:
    """The complete shards of the output `out_dir`, whose layout must be in `layouts`.

    Raises:
        FileNotFoundError: no ``manifest.json`` in `out_dir`.
        ValueError: the output's layout is not one of `layouts`.
    """
    manifest = read_manifest(Path(out_dir))
    if manifest is None:
        raise FileNotFoundError(f"{out_dir}: no manifest.json (not a samplegen output folder)")
    layout = str(manifest.get("layout", "")).split(":")[0]
    if layout not in layouts:
        raise ValueError(f"{out_dir}: layout {layout!r}, this dataset reads {' or '.join(layouts)}")
    shards = [ShardEntry(tuple(f["name"] for f in s["files"]), int(s["samples"]))
              for s in sorted(manifest["shards"], key=lambda s: int(s["index"]))]
    return OutputShards(str(manifest.get("command")), stored_channel_order(manifest), shards)
