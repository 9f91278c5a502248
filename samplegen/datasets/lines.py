"""Line-numbered reading and tokenising for the text annotation formats.

Every helper takes the annotation path and the 1-based line number it is looking at, and turns a
bad token into `InputError(path, line, message)`, so no reader lets a bare `ValueError` escape.
Lines are split on any run of whitespace; CRLF line ends are accepted (the CUHK facial-point
lists use them) and a UTF-8 byte-order mark at the start of the file is ignored.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator, Sequence

from samplegen.errors import InputError


def read_input(path: Path) -> bytes:
    """The bytes of an input file; a folder or an unreadable file is an InputError, not an OSError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror or exc}") from None


def read_lines(path: Path) -> list[str]:
    """All lines of a UTF-8 text file without their line ends (index i is line i + 1)."""
    data = read_input(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(path, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})") from None
    # splitlines() would also split on \x0c, \x1c, \u2028...; only real line ends count here.
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line end does not start another line
    return lines


def numbered_tokens(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, whitespace-split tokens) for every non-blank line of a text file."""
    for number, text in enumerate(read_lines(path), start=1):
        tokens = text.split()
        if tokens:
            yield number, tokens


def int_field(path: Path, line: int, token: str, name: str) -> int:
    """`token` as an int; ``"3"`` and ``"3.0"`` are accepted, ``"3.5"`` or ``"x"`` are not."""
    try:
        return int(token)
    except ValueError:
        pass
    try:
        value = float(token)
    except ValueError:
        raise InputError(path, line, f"{name} must be an integer, got {token!r}") from None
    if not value.is_integer():
        raise InputError(path, line, f"{name} must be an integer, got {token!r}")
    return int(value)


def float_field(path: Path, line: int, token: str, name: str) -> float:
    """`token` as a finite float (``nan`` and ``inf`` are refused: a box cannot use them)."""
    try:
        value = float(token)
    except ValueError:
        raise InputError(path, line, f"{name} must be a number, got {token!r}") from None
    if not math.isfinite(value):
        raise InputError(path, line, f"{name} must be finite, got {token!r}")
    return value


def float_fields(path: Path, line: int, tokens: Sequence[str], name: str,
                 labels: Sequence[str] | None = None) -> list[float]:
    """Every token as a finite float; the message names the field by `labels` or 1-based position."""
    return [float_field(path, line, token, labels[i] if labels else f"{name} field {i + 1}")
            for i, token in enumerate(tokens)]


def int_fields(path: Path, line: int, tokens: Sequence[str], name: str) -> list[int]:
    """Every token as an int; the message names the 1-based field position."""
    return [int_field(path, line, token, f"{name} field {i + 1}") for i, token in enumerate(tokens)]


def expect_count(path: Path, line: int, tokens: Sequence[str], count: int, what: str) -> None:
    """Refuse a line that does not have exactly `count` fields."""
    if len(tokens) != count:
        raise InputError(path, line, f"{what} needs {count} fields, got {len(tokens)}")


def duplicate_error(path: Path, line: int | None, key: str, first: int | str | None) -> InputError:
    """The error for an image listed twice, naming where it was first seen."""
    where = f"line {first}" if isinstance(first, int) else str(first)
    return InputError(path, line, f"duplicate image {key!r} (first listed at {where})")
