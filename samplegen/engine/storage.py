"""Where a run's output lives: a local folder or a prefix in object storage (`OutputFolder`).

The engine (run loop, folder rules, manifest, shard records, verify) reaches its output only
through an `OutputFolder`, by top-level names (``manifest.json``, ``part-000003.tar``) and the
one subfolder ``_shards/``. Two implementations:

* `LocalFolder`: a path on this machine, exactly what samplegen always did (hidden temporary file
  then rename, fsync of the file and the folder, ``mtime_ns`` stamps, the ``flock`` of
  `samplegen.engine.lock`). ``file:///abs/path`` opens the same folder as ``/abs/path``.
* `samplegen.engine.object_store.ObjectFolder`: an fsspec URL (``s3://bucket/prefix``,
  ``gs://...``), imported only when such a URL is used; see that module for what differs.

A file's *stamp* is what ``--resume`` compares, with its size, to trust a file without reading
it: the modification time in ns locally (recorded as ``mtime_ns``), the object's ETag in object
storage (recorded as ``etag``). Any write gives a file a new stamp.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import ContextManager, Hashable, Iterable, Protocol, runtime_checkable

from samplegen.engine.lock import OutputLock
from samplegen.errors import ConfigError
from samplegen.locations import file_url_path, is_remote, is_url  # noqa: F401 (re-exported)
from samplegen.writers.base import folder_digest, remove_entry, remove_temporaries, sha256_file, write_bytes_atomic


def output_location(location: str | os.PathLike) -> Path | str:
    """What a run keeps as its output location: a `Path` for a path, the URL string (without a
    trailing slash) for a URL, which a `Path` would collapse (``s3:/bucket``)."""
    if is_url(location):
        return str(location).rstrip("/") if not str(location).lower().startswith("file://") else str(location)
    return Path(location)


def child_location(location: Path | str, name: str) -> Path | str:
    """The subfolder `name` of an output location (a path or a URL, as `output_location` keeps it)."""
    if is_url(location):
        return f"{str(location).rstrip('/')}/{name}"
    return Path(location) / name


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(bytes, mtime_ns) of a file, or of a shard folder (total bytes, latest mtime of the folder
    and everything in it); None when absent."""
    if path.is_symlink():
        return None  # samplegen never writes links: a link in a shard's place is not its file
    if path.is_file():
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    if path.is_dir():
        total, latest = 0, path.stat().st_mtime_ns
        for child in path.rglob("*"):
            st = child.lstat()
            latest = max(latest, st.st_mtime_ns)
            if child.is_file():
                total += st.st_size
        return total, latest
    return None


@runtime_checkable
class OutputFolder(Protocol):
    """An output folder by top-level names (``NAME`` or ``_shards/NAME``).

    Attributes:
        root: the local path (None in object storage: jobs then write into a spool folder).
        remote: the output is object storage (`samplegen.engine.spool` applies).
        stamp_key: the manifest field of a file's stamp while a run is incomplete.
        torn_tail: whether a crash can catch the files written last half on disk (then
            ``--resume`` hashes them instead of trusting their stamps).
    """

    root: Path | None
    remote: bool
    stamp_key: str
    torn_tail: bool

    def show(self, name: str = "") -> str: ...
    def make(self) -> None: ...
    def lock(self, shared: bool = False) -> ContextManager: ...
    def names(self, sub: str = "") -> list[str]: ...
    def is_file(self, name: str) -> bool: ...
    def is_dir(self, name: str) -> bool: ...
    def exists(self, name: str) -> bool: ...
    def stamp(self, name: str) -> tuple[int, int | str | None] | None: ...
    def digest(self, name: str) -> tuple[int, str]: ...
    def file_identities(self) -> dict[str, Hashable]: ...
    def read_bytes(self, name: str) -> bytes: ...
    def read_many(self, names: Iterable[str]) -> dict[str, bytes]: ...
    def write_atomic(self, name: str, data: bytes, durable: bool = True) -> None: ...
    def make_dir(self, sub: str) -> None: ...
    def sync(self) -> None: ...
    def remove(self, name: str) -> None: ...
    def remove_files(self, names: Iterable[str]) -> None: ...
    def remove_temporaries(self) -> int: ...


class LocalFolder:
    """`OutputFolder` on a local path (the functions samplegen always used, unchanged)."""

    remote = False
    stamp_key = "mtime_ns"
    torn_tail = True  # a power cut may leave the last shards' blocks unwritten despite fsync order

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalFolder({str(self.root)!r})"

    def show(self, name: str = "") -> str:
        return str(self.root / name) if name else str(self.root)

    def make(self) -> None:
        """Create the folder; a path below a file or naming one is an `OSError` naming it."""
        if self.root.exists() and not self.root.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(self.root))
        self.root.mkdir(parents=True, exist_ok=True)

    def lock(self, shared: bool = False) -> ContextManager:
        return OutputLock(self.root, shared=shared)

    def names(self, sub: str = "") -> list[str]:
        folder = self.root / sub if sub else self.root
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def is_file(self, name: str) -> bool:
        return (self.root / name).is_file()

    def is_dir(self, name: str) -> bool:
        """A real folder (a link to one is not)."""
        path = self.root / name
        return path.is_dir() and not path.is_symlink()

    def exists(self, name: str) -> bool:
        """Anything under that name, a dangling link included."""
        path = self.root / name
        return path.exists() or path.is_symlink()

    def stamp(self, name: str) -> tuple[int, int] | None:
        return file_stamp(self.root / name)

    def digest(self, name: str) -> tuple[int, str]:
        path = self.root / name
        if path.is_dir():
            return folder_digest(path)
        return path.stat().st_size, sha256_file(path)

    def file_identities(self) -> dict[str, Hashable]:
        """Inode of each top-level file: a file replaced by a rename gets a new one, a file the
        user appends to keeps its own."""
        return {p.name: p.lstat().st_ino for p in self.root.iterdir() if p.is_file()}

    def read_bytes(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def read_many(self, names: Iterable[str]) -> dict[str, bytes]:
        """The bytes of each readable file of `names` (unreadable ones left out)."""
        found = {}
        for name in names:
            try:
                found[name] = (self.root / name).read_bytes()
            except OSError:
                continue
        return found

    def write_atomic(self, name: str, data: bytes, durable: bool = True) -> None:
        write_bytes_atomic(self.root / name, data, durable)

    def make_dir(self, sub: str) -> None:
        (self.root / sub).mkdir(exist_ok=True)

    def sync(self) -> None:
        """fsync the folder: the renames done so far survive a power cut."""
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return  # not supported here (e.g. Windows): the rename itself is still atomic
        try:
            os.fsync(fd)
        except OSError:
            pass  # some file systems refuse fsync on folders
        finally:
            os.close(fd)

    def remove(self, name: str) -> None:
        remove_entry(self.root / name)

    def remove_files(self, names: Iterable[str]) -> None:
        for name in names:
            (self.root / name).unlink(missing_ok=True)

    def remove_temporaries(self) -> int:
        return remove_temporaries(self.root)


def open_output(location: str | os.PathLike | OutputFolder) -> OutputFolder:
    """The `OutputFolder` of a path, a ``file://`` URL or an object-storage URL (an
    `OutputFolder` is returned as it is).

    Raises:
        ConfigError: a malformed file URL; an object-storage URL without fsspec or its driver.
    """
    if not isinstance(location, (str, os.PathLike)):
        return location
    if is_remote(location):
        from samplegen.engine.object_store import ObjectFolder

        return ObjectFolder(str(location))
    if is_url(location):
        return LocalFolder(file_url_path(str(location)))
    return LocalFolder(Path(location))


def local_path(location: str | os.PathLike) -> Path:
    """The local path of a path or ``file://`` URL (what a job writes into).

    Raises:
        ConfigError: an object-storage URL, which has none.
    """
    if is_remote(location):
        raise ConfigError(f"{location}: not a local path")
    return file_url_path(str(location)) if is_url(location) else Path(location)

