"""Layered configuration: preset YAML < --config file < SAMPLEGEN_* environment < CLI options.

Values are merged as plain dicts with the source of every leaf recorded, then built into frozen
dataclasses by `build_dataclass`, which rejects unknown keys and wrong types naming the key path
and the file it came from. Presets ship inside the wheel as the package ``samplegen.configs``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from samplegen.errors import ConfigError

ENV_PREFIX = "SAMPLEGEN_"


@dataclasses.dataclass
class Layered:
    """A merged configuration dict and, for every dotted key, where its value came from."""

    values: dict[str, Any]
    sources: dict[str, str]

    def merge(self, overrides: Mapping[str, Any], source: str) -> "Layered":
        """A new Layered with `overrides` (nested dict) applied on top, recording `source`."""
        values = json.loads(json.dumps(self.values))
        sources = dict(self.sources)
        _merge_into(values, sources, overrides, source, "")
        return Layered(values, sources)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the values (sources excluded)."""
        return hashlib.sha256(canonical_json(self.values).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _merge_into(values: dict, sources: dict, overrides: Mapping, source: str, prefix: str) -> None:
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(values.get(key), dict):
            _merge_into(values[key], sources, value, source, path + ".")
        else:
            values[key] = json.loads(json.dumps(value)) if value is not None else None
            _record_sources(sources, value, source, path)


def _record_sources(sources: dict, value: Any, source: str, path: str) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _record_sources(sources, sub, source, f"{path}.{key}")
    else:
        sources[path] = source


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from a file (safe loader); errors name the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, name: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: a config file must hold a mapping, got {type(data).__name__}")
    return data


def preset_text(relative: str) -> str:
    """Text of a shipped preset, e.g. ``"mtcnn/pnet.yaml"``."""
    node = resources.files("samplegen.configs")
    for part in relative.split("/"):
        node = node.joinpath(part)
    try:
        return node.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        raise ConfigError(f"no preset named {relative}") from None


def load_preset(relative: str) -> Layered:
    """A shipped preset as the bottom layer, every value sourced ``preset:<relative>``."""
    data = parse_yaml(preset_text(relative), f"preset {relative}")
    return Layered({}, {}).merge(data, f"preset:{relative}")


def environment_overrides(keys: typing.Iterable[str], environ: Mapping[str, str] | None = None) -> dict:
    """Top-level overrides from ``SAMPLEGEN_<KEY>`` variables, parsed as YAML scalars."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for key in keys:
        name = ENV_PREFIX + key.upper()
        if name in environ:
            found[key] = yaml.safe_load(environ[name])
    return found


def build_dataclass(cls: type, data: Mapping[str, Any], sources: Mapping[str, str] | None = None,
                    prefix: str = "") -> Any:
    """Build frozen dataclass `cls` from `data`, checking keys and types recursively.

    Lists become tuples; ints are accepted for float fields; nested dataclasses are built from
    nested mappings. Missing fields without a default, unknown keys and wrong types raise
    `ConfigError` naming the key path and its source.
    """
    sources = sources or {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{_where(prefix.rstrip('.'), sources)}: expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        path = prefix + unknown[0]
        raise ConfigError(f"{_where(path, sources)}: unknown key '{path}' (known: {', '.join(sorted(fields))})")
    kwargs = {}
    for name, f in fields.items():
        path = prefix + name
        if name in data:
            kwargs[name] = _coerce(hints[name], data[name], path, sources)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_where(path, sources)}: missing required key '{path}'")
    return cls(**kwargs)


def _where(path: str, sources: Mapping[str, str]) -> str:
    source = sources.get(path) or next((s for k, s in sources.items() if k.startswith(path + ".")), None)
    return f"config {source}" if source else "config"


def _coerce(hint: Any, value: Any, path: str, sources: Mapping[str, str]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, path, sources)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1] if errors else f"{_where(path, sources)}: bad value for '{path}'")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{_where(path, sources)}: '{path}' must be one of {list(args)}, got {value!r}")
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, sources, path + ".")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{_where(path, sources)}: '{path}' must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{path}[{i}]", sources) for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{_where(path, sources)}: '{path}' must have {len(args)} values, got {len(value)}")
        return tuple(_coerce(a, v, f"{path}[{i}]", sources) for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{_where(path, sources)}: '{path}' must be a mapping")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{_where(path, sources)}: '{path}' must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_where(path, sources)}: '{path}' must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{_where(path, sources)}: '{path}' must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{_where(path, sources)}: '{path}' must be a string, got {value!r}")
        return value
    return value
