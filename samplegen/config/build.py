"""Frozen dataclasses from merged configuration values, with errors that name key and source.

`build_dataclass` walks a dataclass's type hints: nested dataclasses are built from nested
mappings, lists become tuples, ints are accepted for floats, Literals are checked. A key the
dataclass does not have is refused; when the class lists it in ``RENAMED_KEYS`` (a ``ClassVar``
mapping an old key to its new dotted key), the error names the new key. When `data` is a
`SiblingValues` (the method part of a resolved configuration), the unknown-key error also lists
the keys accepted beside it (the engine keys ``seed``, ``shard_size``, ...), so a typo in a
``--config`` file shows every key that file may hold.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping

from samplegen.errors import ConfigError


class SiblingValues(dict):
    """A dict of configuration values, and the keys another dataclass accepts at the same level
    (`sibling_keys`), for the unknown-key message of `build_dataclass`."""

    def __init__(self, values: Mapping[str, Any], sibling_keys: typing.Sequence[str]) -> None:
        super().__init__(values)
        self.sibling_keys = tuple(sibling_keys)


def where(path: str, sources: Mapping[str, str]) -> str:
    """``config <source>`` of a dotted key (or of the first key below it), ``config`` if unknown."""
    source = sources.get(path) or next((s for k, s in sources.items() if k.startswith(path + ".")), None)
    return f"config {source}" if source else "config"


def fail(path: str, message: str, sources: Mapping[str, str]) -> typing.NoReturn:
    """Raise `ConfigError` ``config <source>: '<path>' <message>``."""
    raise ConfigError(f"{where(path, sources)}: '{path}' {message}")


def build_dataclass(cls: type, data: Mapping[str, Any], sources: Mapping[str, str] | None = None,
                    prefix: str = "", renamed: Mapping[str, str] | None = None) -> Any:
    """Build frozen dataclass `cls` from `data`, checking keys and types recursively.

    Missing fields without a default, unknown keys and wrong types raise `ConfigError` naming
    the key path and its source. `renamed` (default: ``cls.RENAMED_KEYS``) maps keys of an
    older layout to their new dotted path, for the error message.
    """
    sources = sources or {}
    if not isinstance(data, Mapping):
        keys = ", ".join(f.name for f in dataclasses.fields(cls))
        raise ConfigError(f"{where(prefix.rstrip('.'), sources)}: '{prefix.rstrip('.')}' must be a mapping "
                          f"of {keys}; got {data!r}")
    renamed = getattr(cls, "RENAMED_KEYS", {}) if renamed is None else renamed
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        path = prefix + unknown[0]
        if unknown[0] in renamed:
            raise ConfigError(f"{where(path, sources)}: '{path}' is now '{prefix}{renamed[unknown[0]]}'")
        siblings = getattr(data, "sibling_keys", ()) if not prefix else ()
        beside = f"; engine keys: {', '.join(sorted(siblings))}" if siblings else ""
        raise ConfigError(f"{where(path, sources)}: unknown key '{path}' (known: {', '.join(sorted(fields))}{beside})")
    kwargs = {}
    for name, f in fields.items():
        path = prefix + name
        if name in data:
            kwargs[name] = _coerce(hints[name], data[name], path, sources)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where(path, sources)}: missing required key '{path}'")
    return cls(**kwargs)


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
        raise ConfigError(errors[-1] if errors else f"{where(path, sources)}: bad value for '{path}'")
    if origin is typing.Literal:
        if value in args:
            return value
        fail(path, f"must be one of {list(args)}, got {value!r}", sources)
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, sources, path + ".")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            fail(path, f"must be a list, got {value!r}", sources)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{path}[{i}]", sources) for i, v in enumerate(value))
        if len(args) != len(value):
            fail(path, f"must have {len(args)} values, got {len(value)}", sources)
        return tuple(_coerce(a, v, f"{path}[{i}]", sources) for i, (a, v) in enumerate(zip(args, value)))
    if origin in (dict, Mapping) or hint is dict:
        if not isinstance(value, Mapping):
            fail(path, "must be a mapping", sources)
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(path, f"must be a number, got {value!r}", sources)
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, f"must be an integer, got {value!r}", sources)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            fail(path, f"must be true or false, got {value!r}", sources)
        return value
    if hint is str:
        if not isinstance(value, str):
            fail(path, f"must be a string, got {value!r}", sources)
        return value
    return value
