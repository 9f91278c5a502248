"""Layered configuration values: preset YAML < --config file < SAMPLEGEN_* environment < command line.

Values are merged as plain nested dicts with the source of every leaf recorded (``preset:fpn.yaml``,
``file:my.yaml``, ``environment:SAMPLEGEN_SEED``, ``command line``), then built into frozen
dataclasses by `samplegen.config.build.build_dataclass`. Presets ship inside the wheel as the
package ``samplegen.configs``.

Text values from the environment and from ``--set KEY=VALUE`` are parsed by `parse_value`, the
command line's rules, never as YAML 1.1 (where ``010`` is 8 and ``1:30`` is 90).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from samplegen.errors import ConfigError

ENV_PREFIX = "SAMPLEGEN_"
ENV_NESTING = "__"  # SAMPLEGEN_ASSIGNER__POS_IOU_THR sets assigner.pos_iou_thr
MAX_CONFIG_BYTES = 1 << 20  # a configuration is a page of YAML, not a data file


@dataclasses.dataclass
class Layered:
    """A merged configuration dict and, for every dotted key, where its value came from."""

    values: dict[str, Any]
    sources: dict[str, str]

    def merge(self, overrides: Mapping[str, Any], source: str | Mapping[str, str]) -> "Layered":
        """A new Layered with `overrides` (nested dict) applied on top, recording `source`.

        `source` is one label for every overridden leaf, or a mapping from dotted key to label
        (keys it does not name get the label of their nearest named parent).
        """
        values = json.loads(json.dumps(self.values))
        sources = dict(self.sources)
        _merge_into(values, sources, overrides, source, "")
        return Layered(values, sources)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the values (sources excluded)."""
        return hashlib.sha256(canonical_json(self.values).encode()).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _label(source: str | Mapping[str, str], path: str) -> str:
    if isinstance(source, str):
        return source
    while path:
        if path in source:
            return source[path]
        path = path.rpartition(".")[0]
    return "command line"


def _merge_into(values: dict, sources: dict, overrides: Mapping, source: str | Mapping[str, str],
                prefix: str) -> None:
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(values.get(key), dict):
            _merge_into(values[key], sources, value, source, path + ".")
        else:
            values[key] = json.loads(json.dumps(value)) if value is not None else None
            for stale in [k for k in sources if k.startswith(path + ".")]:
                del sources[stale]
            _record_sources(sources, value, source, path)


def _record_sources(sources: dict, value: Any, source: str | Mapping[str, str], path: str) -> None:
    if isinstance(value, Mapping) and value:
        for key, sub in value.items():
            _record_sources(sources, sub, source, f"{path}.{key}")
    else:
        sources[path] = _label(source, path)


def leaf_paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of the leaves of a nested mapping (a list is a leaf)."""
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            yield from leaf_paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def nest(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"assigner.pos_iou_thr": 0.6}`` -> ``{"assigner": {"pos_iou_thr": 0.6}}`` (nested values kept)."""
    out: dict[str, Any] = {}
    for path, value in dotted.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"config: '{path}' sets a key below '{part}', which is given a value too")
            node = child
        if isinstance(value, Mapping) and isinstance(node.get(leaf), dict):
            _merge_plain(node[leaf], value)
        else:
            node[leaf] = value
    return out


def _merge_plain(target: dict, extra: Mapping) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge_plain(target[key], value)
        else:
            target[key] = value


_INT = re.compile(r"[+-]?\d+")


def parse_value(text: str, where: str) -> Any:
    """A configuration value from text, by the command line's rules.

    ``true``/``false``, ``null``, integers (``010`` is ten), finite floats, JSON lists and
    mappings (``[0.5, 1.0]``); anything else is the string itself. `where` names the variable
    or option in the error of a malformed list.
    """
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none", "~"):
        return None
    if _INT.fullmatch(stripped):
        return int(stripped)
    try:
        number = float(stripped)
    except ValueError:
        number = None
    if number is not None and math.isfinite(number):
        return number
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):
            raise ConfigError(f"{where}: {_quote(stripped)} is not a valid JSON list or mapping") from None
    return text


def _quote(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def parse_assignments(items: Iterable[str], where: str = "--set") -> dict[str, Any]:
    """``["assigner.pos_iou_thr=0.6", "seed=3"]`` -> nested overrides (values by `parse_value`)."""
    dotted: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not all(part.isidentifier() for part in key.split(".")):
            raise ConfigError(f"{where}: expected KEY=VALUE with a dotted KEY (assigner.pos_iou_thr=0.6), "
                              f"got {_quote(item)}")
        dotted[key] = parse_value(text, f"{where} {key}")
    return nest(dotted)


def env_name(path: str) -> str:
    """``assigner.pos_iou_thr`` -> ``SAMPLEGEN_ASSIGNER__POS_IOU_THR``."""
    return ENV_PREFIX + path.upper().replace(".", ENV_NESTING)


def environment_overrides(paths: Iterable[str], environ: Mapping[str, str],
                          renamed: Mapping[str, str] | None = None) -> tuple[dict, dict[str, str]]:
    """(nested overrides, sources) from the ``SAMPLEGEN_*`` variables naming one of `paths`.

    Each value's source is ``environment:NAME`` so errors name the variable.

    Raises:
        ConfigError: a variable names an old key of `renamed` (old flat key -> new dotted
            key): it would be ignored, so the error names the variable to set instead.
    """
    paths = list(paths)
    current = {env_name(path) for path in paths}
    for old, new in (renamed or {}).items():
        name = env_name(old)
        if name in environ and name not in current:
            raise ConfigError(f"{name}: {old} is now {new}; set {env_name(new)} instead")
    dotted, sources = {}, {}
    for path in paths:
        name = env_name(path)
        if name in environ:
            dotted[path] = parse_value(environ[name], name)
            sources[path] = f"environment:{name}"
    return nest(dotted), sources


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML mapping from a file (safe loader); errors name the file and line."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: a config file is at most {MAX_CONFIG_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: a config file must be UTF-8 text (byte {exc.start} is not)") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, name: str) -> dict[str, Any]:
    import yaml  # not at import time: `import samplegen` stays cheap

    try:
        data = yaml.load(text, Loader=_loader_class())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise ConfigError(f"{name}: invalid YAML: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: a config file must hold a mapping, got {type(data).__name__}")
    try:
        canonical_json(data)  # only JSON-representable values (no dates, sets or alias bombs)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigError(f"{name}: unsupported YAML value ({exc})") from None
    return data


# Numbers in a config file read as on the command line (`parse_value`), not by YAML 1.1's
# rules, under which ``seed: 010`` is 8 (octal), ``shard_size: 1:30`` is 90 (base 60) and
# ``1e-3`` is a string.
_YAML_INT = re.compile(r"^[-+]?[0-9]+$")
_YAML_FLOAT = re.compile(r"^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
                         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")


def _loader_class() -> type:
    """yaml.SafeLoader without aliases (a configuration never needs them, and an alias bomb, a
    few lines that expand to gigabytes, is refused instead of exhausting memory) and with the
    command line's numbers (`_YAML_INT`, `_YAML_FLOAT`)."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a config",
                                                  event.start_mark)
            return super().compose_node(parent, index)

    int_tag, float_tag = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
    NoAliasLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in (int_tag, float_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    NoAliasLoader.add_implicit_resolver(int_tag, _YAML_INT, list("-+0123456789"))
    NoAliasLoader.add_implicit_resolver(float_tag, _YAML_FLOAT, list("-+0123456789."))
    NoAliasLoader.add_constructor(int_tag, lambda loader, node: int(loader.construct_scalar(node), 10))
    return NoAliasLoader


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
    return Layered({}, {}).merge(json.loads(_preset_json(relative)), f"preset:{relative}")


@functools.lru_cache(maxsize=None)
def _preset_json(relative: str) -> str:
    # Presets are package data: parsed once per process (a resolve per image, as `show` and the
    # tests do, would otherwise spend most of its time in the YAML parser).
    return json.dumps(parse_yaml(preset_text(relative), f"preset {relative}"))


def dump_yaml(values: Mapping[str, Any]) -> str:
    """Nested values as block YAML with flow-style lists, in insertion order (a ``--config`` file)."""
    import yaml

    return yaml.safe_dump(dict(values), sort_keys=False, default_flow_style=None)
