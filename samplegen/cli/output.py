"""The single JSON object a command prints on stdout."""
from __future__ import annotations

import json
from typing import Any

import click


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=1, sort_keys=False))
