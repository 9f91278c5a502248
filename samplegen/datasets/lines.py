"""Line-numbered reading and tokenising for the text annotation formats.

Every helper takes the annotation path and the 1-based line number it is looking at, and turns a
bad token into `InputError(path, line, message)`, so no reader lets a bare `ValueError` escape.
Lines are split on any run of whitespace; CRLF line ends are accepted (the CUHK facial-point
lists use them) and a UTF-8 byte-order mark at the start of the file is ignored.

Numbers are bounded where they are parsed, so nothing downstream overflows: coordinates lie within
``±MAX_COORDINATE`` (2**24: boxes are float32, which holds every whole pixel only up to there, and
``x + w`` of two such values is still finite), integers within int32, and an image side is at
most `MAX_IMAGE_SIDE`. Text quoted in a message is cut to `QUOTE_LIMIT` characters (`quote`), so
a wrong file never turns into a megabyte-long error line.
"""
from __future__ import annotations

import codecs
import collections
import math
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterator, Sequence

from samplegen.errors import InputError

MAX_COORDINATE = float(2 ** 24)
"""Largest coordinate magnitude accepted (16,777,216 px)."""
MAX_INT = 2 ** 31 - 1
"""Largest integer field accepted (counts, attributes, classes, sizes are int32 downstream)."""
MAX_IMAGE_SIDE = 2 ** 20
"""Largest image width or height accepted from an annotation: OpenCV refuses to decode images
wider or taller than this (``CV_IO_MAX_IMAGE_WIDTH``/``HEIGHT`` = 1 << 20), so a larger recorded
size is a broken annotation (COCO ``"width": 1e30`` would otherwise shrink every GT to 1e-26 px)."""
QUOTE_LIMIT = 80
LINE_BLOCK = 1 << 20   # bytes read at a time by `iter_lines`
_INTEGER = re.compile(r"[+-]?[0-9]+")


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` of at most about `limit` characters: longer text is cut and says how long
    it was (``'{"info": {"descr...' (560,112 characters)``)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def check_path_text(path: Path) -> None:
    """Refuse a path that the file system cannot be asked about (a NUL byte, a lone surrogate)."""
    text = str(path)
    if "\x00" in text:
        raise InputError(quote(text), None, "the path contains a NUL byte")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise InputError(quote(text), None, "the path is not valid text (a lone surrogate)") from None


def read_input(path: Path) -> bytes:
    """The bytes of a regular input file.

    A folder, a device, a FIFO or a socket (``--annotations /dev/zero`` would never end) and an
    unreadable file are InputErrors, not OSErrors or a hang.
    """
    info = _regular_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror or exc}") from None
    except MemoryError:
        raise InputError(path, None, f"too large to read into memory ({info.st_size:,} bytes)") from None


def _regular_file(path: Path) -> os.stat_result:
    check_path_text(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(path, None, "cannot read: Is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(path, None, "not a regular file (a device, FIFO or socket): refusing to read it")
    return info


def iter_lines(path: Path, block: int | None = None) -> Iterator[str]:
    """The lines of a UTF-8 text file without their line ends, read `block` bytes at a time
    (default `LINE_BLOCK`).

    Line ends are ``\n``, ``\r\n`` and ``\r`` only (`str.splitlines` would also split on
    ``\x0c``, ``\x1c``, ``\u2028``...). The whole file is never in memory: a WIDER train file is
    185,000 lines, ~25 MB as one list of strings, and its parent also holds every record.

    Raises:
        InputError: not a regular readable file; not UTF-8 (naming the line of the bad byte).
    """
    _regular_file(path)
    block = block or LINE_BLOCK
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    newlines = 0        # line ends in the blocks decoded so far
    carry = ""          # the last, unfinished line
    try:
        with path.open("rb") as f:
            while True:
                data = f.read(block)
                try:
                    text = decoder.decode(data, final=not data)
                except UnicodeDecodeError as exc:
                    line = newlines + exc.object[: exc.start].count(b"\n") + 1
                    raise InputError(path, line, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})") from None
                newlines += data.count(b"\n")
                text = carry + text
                if data and text.endswith("\r"):
                    text, held = text[:-1], "\r"   # maybe the first half of a \r\n
                else:
                    held = ""
                lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
                carry = lines.pop() + held
                yield from lines
                if not data:
                    break
    except OSError as exc:
        raise InputError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if carry:
        yield carry  # a last line without a line end (an empty one is no line)


def read_lines(path: Path) -> list[str]:
    """All lines of a UTF-8 text file without their line ends (index i is line i + 1)."""
    return list(iter_lines(path))


class LineWindow:
    """A file's lines by index, read forward: ``window[i]`` (or `get`, None past the end) is line
    i + 1, `has` tells whether it exists, `forget` lets go of the lines before one (only a few
    are ever held)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines, self._held, self._first = lines, collections.deque(), 0

    def has(self, index: int) -> bool:
        while index - self._first >= len(self._held):
            line = next(self._lines, None)
            if line is None:
                return False
            self._held.append(line)
        return True

    def get(self, index: int) -> str | None:
        """Line index + 1, None past the end of the file."""
        offset = index - self._first
        if offset < 0:
            raise IndexError(f"line {index + 1} was forgotten")
        if offset < len(self._held) or self.has(index):
            return self._held[offset]
        return None

    def __getitem__(self, index: int) -> str:
        line = self.get(index)
        if line is None:
            raise IndexError(index)
        return line

    def forget(self, index: int) -> None:
        while self._first < index and self._held:
            self._held.popleft()
            self._first += 1


def numbered_tokens(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, whitespace-split tokens) for every non-blank line of a text file."""
    for number, text in enumerate(iter_lines(path), start=1):
        tokens = text.split()
        if tokens:
            yield number, tokens


def int_field(path: Path, line: int | None, token: str, name: str) -> int:
    """`token` as an int within ±`MAX_INT`; ``"3"`` and ``"3.0"`` are accepted, ``"3.5"``, ``"x"``
    and a 400-digit number are not."""
    if len(token) < 10:  # the common case: fewer than 10 digits is always within MAX_INT
        try:
            return int(token)
        except ValueError:
            pass
    if _INTEGER.fullmatch(token):
        # Python refuses int() of more than 4300 digits; anything over 10 is out of range anyway.
        value = int(token) if len(token.lstrip("+-").lstrip("0")) <= 10 else MAX_INT + 1
    else:
        try:
            number = float(token)
        except ValueError:
            raise InputError(path, line, f"{name} must be an integer, got {quote(token)}") from None
        if not number.is_integer():  # also nan and inf
            raise InputError(path, line, f"{name} must be an integer, got {quote(token)}")
        value = int(number) if abs(number) <= MAX_INT else MAX_INT + 1
    if abs(value) > MAX_INT:
        raise InputError(path, line, f"{name} {quote(token)} is out of range (at most {MAX_INT:,})")
    return value


def float_field(path: Path, line: int | None, token: str, name: str) -> float:
    """`token` as a finite float within ±`MAX_COORDINATE` (``nan``, ``inf``, ``1e400`` and
    ``1e39``, which overflows float32, are refused: a box cannot use them)."""
    try:
        value = float(token)
    except ValueError:
        raise InputError(path, line, f"{name} must be a number, got {quote(token)}") from None
    if not -MAX_COORDINATE <= value <= MAX_COORDINATE:  # also false for nan
        if not math.isfinite(value):
            raise InputError(path, line, f"{name} must be finite, got {quote(token)}")
        check_coordinate(path, line, value, name, token)
    return value


def check_coordinate(path: Path, line: int | None, value: float, name: str, token: Any = None) -> None:
    """Refuse a coordinate beyond ±`MAX_COORDINATE` (message names `name` and the value)."""
    if abs(value) > MAX_COORDINATE:
        shown = quote(token) if token is not None else f"{value:g}"
        raise InputError(path, line, f"{name} {shown} is beyond ±{MAX_COORDINATE:,.0f} px "
                                     "(2**24; float32 boxes cannot hold it)")


def check_image_side(path: Path, line: int | None, value: int | float, name: str) -> None:
    """Refuse an image width/height above `MAX_IMAGE_SIDE` (OpenCV cannot decode such an image)."""
    if value > MAX_IMAGE_SIDE:
        if isinstance(value, float):
            shown = f"{value:g}"
        else:
            shown = f"{value:,}" if value < 10 ** 18 else f"{str(value)[:12]}... ({len(str(value))} digits)"
        raise InputError(path, line, f"{name} {shown} is above {MAX_IMAGE_SIDE:,} px "
                                     "(the largest side OpenCV decodes): not a real image size")


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
    return InputError(path, line, f"duplicate image {quote(key)} (first listed at {where})")
