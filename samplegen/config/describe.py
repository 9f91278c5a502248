"""Resolved configuration values as text a user reads: YAML with the source of every value.

`annotated_yaml` writes the nested values in their own order, one leaf per line, each followed
by ``# <source>`` (``preset:anchors/fpn.yaml``, ``file:my.yaml``, ``environment:SAMPLEGEN_SEED``,
``command line``). Leaves are written as JSON (a subset of YAML: lists in flow style, strings
quoted), so the text is itself a ``--config`` file that gives the same values.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

INDENT = "  "


def annotated_yaml(values: Mapping[str, Any], sources: Mapping[str, str]) -> str:
    """Block YAML of `values` with ``# source`` after every leaf (`sources`: dotted key -> label)."""
    lines: list[str] = []
    _write(values, sources, "", 0, lines)
    return "\n".join(lines) + "\n"


def _write(values: Mapping[str, Any], sources: Mapping[str, str], prefix: str, depth: int,
           lines: list[str]) -> None:
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            lines.append(f"{INDENT * depth}{key}:")
            _write(value, sources, path + ".", depth + 1, lines)
        else:
            source = sources.get(path)
            comment = f"  # {source}" if source else ""
            lines.append(f"{INDENT * depth}{key}: {json.dumps(value)}{comment}")
