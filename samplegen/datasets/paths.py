"""Image paths from annotation files: the record key, and the file under the images root.

Annotation files write paths relative to an images folder (``0--Parade/0_Parade_...jpg``), with
forward or back slashes. The record key is that path with ``\\`` turned into ``/``; the image file
is the key joined under `images_root`. A path that would leave the root (``../x.jpg``, an
absolute path) is refused with the annotation's FILE:LINE, so an annotation cannot make samplegen
read arbitrary files. The check here is lexical (``..`` components are resolved without touching
the file system); where pixels are read, `samplegen.engine.images.load_image` resolves symlinks
and skips an image whose real file lies outside the root (reason ``outside_root``), unless the
run asks for ``--follow-symlinks`` (a root assembled from links on purpose).

A path the outputs could not carry is refused where it is read (`image_key` with a source): a NUL
byte (no file system accepts it), a lone surrogate (a JSON ``"\\ud800"`` escape, or a file name
that is not UTF-8 on disk) - keys are written into UTF-8 manifests and tar headers.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path

from samplegen.datasets.image_size import image_size
from samplegen.datasets.lines import quote
from samplegen.errors import InputError
from samplegen.locations import joined
from samplegen.record import Record


def image_key(written: str, source: Path | None = None, line: int | None = None) -> str:
    """The record key for a path as written: backslashes become forward slashes.

    With `source` (the annotation file) and its 1-based `line`, the path is checked first.

    Raises:
        InputError: the path holds a NUL byte or is not valid UTF-8 text (only with `source`).
    """
    if source is not None:
        check_written_path(written, source, line)
    return written.replace("\\", "/")


def check_written_path(written: str, source: Path, line: int | None) -> None:
    """Refuse an image path with a NUL byte or a lone surrogate (it cannot be opened or written)."""
    if "\x00" in written:
        raise InputError(source, line, f"image path {quote(written)} contains a NUL byte")
    try:
        written.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(source, line, f"image path {quote(written)} is not valid UTF-8 text "
                                       "(a lone surrogate, or a file name that is not UTF-8)") from None


class RemoteRoot(str):
    """An images root in object storage, by its URL. Readers check every image path against it
    with the annotation's FILE:LINE, like a local root, but read no sizes from it:
    `samplegen.pipelines.inputs` reads those from the objects, concurrently."""


def resolve_image(images_root: Path | RemoteRoot, written: str, source: Path, line: int | None,
                  default_ext: str | None = None) -> Path | str:
    """The image file for `written` under `images_root`.

    Args:
        images_root: folder the annotation paths are relative to.
        written: the path as written in the annotation (either slash).
        source, line: the annotation file and 1-based line, for the error message.
        default_ext: appended when `written` has no extension (AITTSMD's one-line format writes
            ``0--Parade/0_Parade_marchingband_1_849`` for a ``.jpg`` file).

    Raises:
        InputError: the path is absolute or climbs out of `images_root`.
    """
    key = _relative_key(images_root, written, source, line, default_ext)
    if isinstance(images_root, RemoteRoot):
        return joined(images_root, key)
    return Path(_local_file(images_root, key))


def _relative_key(images_root: Path | RemoteRoot, written: str, source: Path, line: int | None,
                  default_ext: str | None) -> str:
    """`written` as a key under `images_root` (`resolve_image`), refused when it escapes."""
    key = image_key(written, source, line)
    if default_ext and not posixpath.splitext(key)[1]:
        key += default_ext
    if _escapes(key):
        raise InputError(source, line, f"image path {quote(written)} escapes the images root {quote(str(images_root))}")
    return key


def _local_file(images_root: Path, key: str) -> str:
    # A string, not a Path: every Path interns its parts, and a million images' names would
    # grow the interpreter's table of interned strings for good.
    return os.path.normpath(os.path.join(images_root, posixpath.normpath(key)))


def _escapes(key: str) -> bool:
    """Whether the relative path `key` (forward slashes) is absolute or climbs out of its root."""
    normal = posixpath.normpath(key)
    # A drive letter ("C:/x") is absolute on Windows and a relative folder here: refuse it too.
    return key.startswith("/") or (len(key) > 1 and key[1] == ":") or normal == ".." or normal.startswith("../")


def image_size_under(images_root: Path | None, written: str, source: Path, line: int | None,
                     default_ext: str | None = None) -> tuple[int | None, int | None]:
    """(width, height) read from the image header, or (None, None) without a root or a file.

    The escape check runs whenever a root is given, even if the file does not exist.
    """
    if images_root is None:
        return None, None
    key = _relative_key(images_root, written, source, line, default_ext)
    if isinstance(images_root, RemoteRoot):
        return None, None
    size = image_size(_local_file(images_root, key))
    return (None, None) if size is None else size


def relative_file(record: Record) -> str:
    """The file of `record` relative to its images root: `Record.file`, else the path as written
    with forward slashes."""
    return record.file if record.file is not None else image_key(record.image)


def image_file(images_root: str | Path | None, record: Record) -> Path | str:
    """Where the pixels of `record` are: its `relative_file` under `images_root`, a path, or a
    URL under an object-storage root (``s3://bucket/images/0--Parade/...jpg``). Readers refused
    paths escaping the root already (`RemoteRoot` for one in object storage)."""
    relative = relative_file(record)
    return joined(images_root, relative) if images_root else Path(relative)
