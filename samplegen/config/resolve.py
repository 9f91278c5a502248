"""A command's configuration: engine preset + method preset < --config < environment < command line.

Every command that reads a preset resolves it here, so `samplegen anchors`, `show anchors` and
the library functions label with the same values. The result keeps the source of every value
(written to the manifest) and splits the engine keys (seed, shard size, workers, max errors)
from the method's own.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from samplegen.config.build import SiblingValues, build_dataclass, fail
from samplegen.config.layers import Layered, environment_overrides, leaf_paths, load_preset, load_yaml, nest
from samplegen.errors import ConfigError

ENGINE_PRESET = "engine.yaml"
# Keys that change how a run proceeds but not the bytes it writes: kept out of the fingerprint.
NON_DECISIVE_KEYS = ("workers", "max_errors")
COMMAND_LINE = "command line"


@dataclass(frozen=True)
class EngineValues:
    """The engine keys of a resolved configuration (``configs/engine.yaml``).

    Attributes:
        seed: base seed (>= 0); each image draws from ``rng_for(seed, key)``.
        shard_size: images per shard (>= 1); decides shard boundaries, so it is fingerprinted.
        workers: worker processes (>= 1), None for the CPU count; never changes the bytes.
        max_errors: missing or undecodable images tolerated before the run fails (>= 0).
    """

    seed: int
    shard_size: int
    workers: int | None
    max_errors: int

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


ENGINE_KEYS = tuple(EngineValues.__dataclass_fields__)


@dataclass(frozen=True)
class Resolved:
    """Merged values of a command with their sources."""

    layered: Layered

    @property
    def sources(self) -> dict[str, str]:
        return self.layered.sources

    @property
    def decisive_sources(self) -> dict[str, str]:
        """The sources of the `decisive` values only (what a manifest records: where the worker
        count came from must not change its bytes)."""
        return {k: v for k, v in self.sources.items() if k.split(".")[0] not in NON_DECISIVE_KEYS}

    @property
    def method_values(self) -> dict[str, Any]:
        """The values of the method's own dataclass (everything but the engine keys), carrying the
        engine keys as `SiblingValues.sibling_keys` for the unknown-key message."""
        return SiblingValues({k: v for k, v in self.layered.values.items() if k not in ENGINE_KEYS}, ENGINE_KEYS)

    def engine(self) -> EngineValues:
        """The engine values, type- and range-checked (errors name key and source)."""
        values = {k: self.layered.values.get(k) for k in ENGINE_KEYS}
        engine = build_dataclass(EngineValues, values, self.sources)
        if engine.seed < 0:
            fail("seed", f"must be >= 0, got {engine.seed}", self.sources)
        if engine.shard_size < 1:
            fail("shard_size", f"must be >= 1, got {engine.shard_size}", self.sources)
        if engine.workers is not None and engine.workers < 1:
            fail("workers", f"must be >= 1 (or null for the CPU count), got {engine.workers}", self.sources)
        if engine.max_errors < 0:
            fail("max_errors", f"must be >= 0, got {engine.max_errors}", self.sources)
        return engine

    def decisive(self) -> dict[str, Any]:
        """The resolved values that decide the output bytes (fingerprinted)."""
        return {k: v for k, v in self.layered.values.items() if k not in NON_DECISIVE_KEYS}


def resolve(preset: str, *, config_file: str | Path | None = None,
            overrides: Mapping[str, Any] | None = None, explicit: Mapping[str, Any] | None = None,
            environ: Mapping[str, str] | None = None, renamed: Mapping[str, str] | None = None) -> Resolved:
    """Layer a method preset (``"anchors/fpn.yaml"``) under the user's values.

    Args:
        preset: the shipped preset, on top of ``engine.yaml``.
        config_file: a YAML file with the same (nested) keys.
        overrides: ``--set`` values: nested, or dotted keys (``{"assigner.pos_iou_thr": 0.6}``).
        explicit: values of dedicated options (``--seed``, ``--ratio``); None means not given.
        environ: where ``SAMPLEGEN_*`` variables are read (default ``os.environ``).
        renamed: old flat key -> new dotted key of the config class (``RENAMED_KEYS``): a
            variable naming an old key is refused, as the old key is in a config file.

    Raises:
        ConfigError: missing or malformed config file, malformed environment value, a variable
            naming a renamed key.
    """
    layered = load_preset(ENGINE_PRESET).merge(load_preset(preset).values, f"preset:{preset}")
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        layered = layered.merge(load_yaml(path), f"file:{path}")
    env, env_sources = environment_overrides(leaf_paths(layered.values), os.environ if environ is None else environ,
                                             renamed)
    if env:
        layered = layered.merge(env, env_sources)
    if overrides:
        layered = layered.merge(nest(overrides), COMMAND_LINE)
    given = {k: v for k, v in (explicit or {}).items() if v is not None}
    if given:
        layered = layered.merge(given, COMMAND_LINE)
    return Resolved(layered)
