"""`ObjectFolder`: an output folder in object storage (``s3://bucket/prefix``, ``gs://``, any fsspec URL).

What differs from a local folder (`samplegen.engine.storage.LocalFolder`):

* Every file is written to its final key in one request (``put_file``, ``pipe_file``): S3, GCS
  and Azure make an object visible only once it is complete (S3 multipart uploads too; s3fs
  aborts a multipart upload that fails), so there are no temporary names and a crash leaves
  complete objects or none. On a failed upload the error is raised naming the URL, after the
  partial object is removed on file systems that write in place (`ATOMIC_PROTOCOLS` are not).
* No lock: object storage has no ``flock``. Two runs writing one prefix at the same time are the
  user's responsibility (each would remove the other's shards as unlisted).
* A file's stamp is its ETag (a content hash for S3), recorded as ``etag`` while the run is
  incomplete; ``--resume`` trusts an object of the recorded size and ETag without reading it.
  An object is complete or absent, so the shards written last are not re-hashed either.
* Calls that fail with a transient error (connection, timeout, throttling) are tried
  `ATTEMPTS` times with a doubling pause; the final error is an `OSError` naming the URL.

Credentials and endpoint come from the environment the way s3fs' botocore reads them:
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (/ ``AWS_SESSION_TOKEN``), ``AWS_PROFILE`` and
``~/.aws``, ``AWS_DEFAULT_REGION``, an S3-compatible endpoint from ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` (botocore >= 1.31), and ``FSSPEC_S3_*`` keys of fsspec's configuration.
fsspec and s3fs are optional (``pip install "samplegen[s3]"``), imported only here.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import time
from pathlib import Path
from typing import Any, Callable, ContextManager, Hashable, Iterable, TypeVar

from samplegen.errors import ConfigError

T = TypeVar("T")
ATTEMPTS = 3            # tries of a storage call that fails with a transient error
FIRST_PAUSE = 0.5       # seconds before the second try, doubled for each next one
# Errors that another try does not fix.
PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError, FileExistsError)
# Libraries whose exceptions are storage errors (connection, protocol), not bugs of samplegen.
STORAGE_MODULES = ("botocore", "aiobotocore", "aiohttp", "s3fs", "fsspec", "gcsfs", "google", "azure", "adlfs",
                   "requests", "urllib3")
# Protocols whose uploads become visible only when complete.
ATOMIC_PROTOCOLS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss"}
DRIVERS = {"s3": "samplegen[s3]", "s3a": "samplegen[s3]", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
           "abfs": "adlfs"}


def _filesystem(url: str) -> tuple[Any, str]:
    scheme = url.split("://", 1)[0].lower()
    package = DRIVERS.get(scheme, f"the fsspec driver of {scheme}://")
    try:
        import fsspec.core

        return fsspec.core.url_to_fs(url)
    except ImportError:
        raise ConfigError(f'{url}: object storage needs fsspec and its {scheme}:// driver: pip install "{package}"') \
            from None
    except ValueError as exc:
        raise ConfigError(f"{url}: {exc}") from None


def is_storage_error(exc: BaseException) -> bool:
    """An `OSError`, or an exception of a storage library (`STORAGE_MODULES`)."""
    if isinstance(exc, OSError):
        return True
    return any(cls.__module__.split(".")[0] in STORAGE_MODULES for cls in type(exc).__mro__)


def _transient(exc: BaseException) -> bool:
    return is_storage_error(exc) and not isinstance(exc, PERMANENT)


def named_error(exc: BaseException, where: str) -> OSError:
    """`exc` as a one-line `OSError` naming `where` (its own type and errno when it has them)."""
    text = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).strip().splitlines()[0]
    if isinstance(exc, OSError):
        return type(exc)(exc.errno if exc.errno is not None else errno.EIO, text, where)
    return OSError(errno.EIO, f"{text} ({type(exc).__name__})", where)


def retrying(action: Callable[[], T], where: str, attempts: int = ATTEMPTS, pause: float = FIRST_PAUSE) -> T:
    """`action()`, tried again after transient storage errors; failures raise `named_error`."""
    for attempt in range(attempts):
        try:
            return action()
        except BaseException as exc:
            if not is_storage_error(exc):
                raise
            if not _transient(exc) or attempt == attempts - 1:
                raise named_error(exc, where) from None
        time.sleep(pause * 2 ** attempt)
    raise AssertionError("unreachable")


def _etag(info: dict) -> str | None:
    """The object's ETag (quotes removed), or what the file system has instead; None without."""
    for key in ("ETag", "etag", "md5Hash", "generation"):
        if info.get(key):
            return str(info[key]).strip('"')
    return None


class ObjectFolder:
    """`samplegen.engine.storage.OutputFolder` under an fsspec URL (see the module docstring)."""

    root = None
    remote = True
    stamp_key = "etag"
    torn_tail = False

    def __init__(self, url: str) -> None:
        self.location = url.rstrip("/")
        self.fs, path = _filesystem(self.location)
        self.path = path.rstrip("/")
        self.protocol = self.location.split("://", 1)[0].lower()

    def __repr__(self) -> str:
        return f"ObjectFolder({self.location!r})"

    def key(self, name: str = "") -> str:
        return f"{self.path}/{name}" if name else self.path

    def show(self, name: str = "") -> str:
        return f"{self.location}/{name}" if name else self.location

    def _call(self, name: str, action: Callable[[], T]) -> T:
        return retrying(action, self.show(name))

    def _fresh(self, name: str = "") -> None:
        # Workers (other processes) write here: a listing cached by this process may be stale.
        self.fs.invalidate_cache(self.key(name))

    def make(self) -> None:
        """Check that the bucket exists and that no object holds the folder's own name."""
        bucket = self.path.split("/", 1)[0]
        try:
            self._call("", lambda: self.fs.info(bucket))   # not `exists`: it hides a connection error
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "no such bucket (or no access to it)", self.location) from None
        self._fresh()
        if self.path != bucket and self._call("", lambda: self.fs.isfile(self.path)):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory (an object has this name)", self.location)

    def lock(self, shared: bool = False) -> ContextManager:
        """No lock in object storage (see the module docstring)."""
        return contextlib.nullcontext(self)

    def _entries(self, sub: str = "") -> list[dict]:
        self._fresh(sub)
        try:
            entries = self._call(sub, lambda: self.fs.ls(self.key(sub), detail=True))
        except FileNotFoundError:
            return []
        own = self.key(sub)
        return [e for e in entries if e["name"].rstrip("/") != own and e["name"].rstrip("/").rsplit("/", 1)[-1]]

    def names(self, sub: str = "") -> list[str]:
        return sorted(e["name"].rstrip("/").rsplit("/", 1)[-1] for e in self._entries(sub))

    def _info(self, name: str) -> dict | None:
        self._fresh(name)
        try:
            return self._call(name, lambda: self.fs.info(self.key(name)))
        except FileNotFoundError:
            return None

    def is_file(self, name: str) -> bool:
        info = self._info(name)
        return info is not None and info.get("type") == "file"

    def is_dir(self, name: str) -> bool:
        info = self._info(name)
        return info is not None and info.get("type") == "directory"

    def exists(self, name: str) -> bool:
        return self._info(name) is not None

    def _objects(self, name: str) -> list[tuple[str, dict]]:
        """(relative name, info) of every object under the prefix `name`, sorted."""
        found = self._call(name, lambda: self.fs.find(self.key(name), detail=True))
        start = len(self.key(name)) + 1
        return sorted((path[start:], info) for path, info in found.items() if info.get("type") == "file")

    def stamp(self, name: str) -> tuple[int, str | None] | None:
        """(bytes, ETag) of an object, or of a prefix (total bytes, a hash of names and ETags)."""
        info = self._info(name)
        if info is None:
            return None
        if info.get("type") != "directory":
            return int(info["size"]), _etag(info)
        objects, combined = self._objects(name), hashlib.sha256()
        for relative, item in objects:
            combined.update(f"{relative}\0{_etag(item)}\0".encode())
        return sum(int(i["size"]) for _, i in objects), combined.hexdigest()

    def _sha256(self, key: str, where: str) -> tuple[int, str]:
        def read() -> tuple[int, str]:
            digest, total = hashlib.sha256(), 0
            with self.fs.open(key, "rb", block_size=1 << 22) as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
                    total += len(block)
            return total, digest.hexdigest()
        return retrying(read, where)

    def digest(self, name: str) -> tuple[int, str]:
        """(bytes, SHA-256) of an object, or of a prefix as `samplegen.writers.base.folder_digest`."""
        if not self.is_dir(name):
            return self._sha256(self.key(name), self.show(name))
        digest, total = hashlib.sha256(), 0
        for relative, _ in self._objects(name):
            size, sha = self._sha256(self.key(f"{name}/{relative}"), self.show(f"{name}/{relative}"))
            total += size
            digest.update(relative.encode() + b"\0" + bytes.fromhex(sha))
        return total, digest.hexdigest()

    def file_identities(self) -> dict[str, Hashable]:
        """(ETag, modification time) of each top-level object: either changes when it is written."""
        return {e["name"].rstrip("/").rsplit("/", 1)[-1]: (_etag(e), str(e.get("LastModified") or e.get("mtime")))
                for e in self._entries() if e.get("type") == "file"}

    def read_bytes(self, name: str) -> bytes:
        return self._call(name, lambda: self.fs.cat_file(self.key(name)))

    def read_many(self, names: Iterable[str]) -> dict[str, bytes]:
        """The bytes of each readable object of `names`, fetched concurrently (the others left out)."""
        keys = {self.key(n): n for n in names}
        if not keys:
            return {}
        found = self._call("", lambda: self.fs.cat(list(keys), on_error="omit"))
        return {keys[k]: v for k, v in found.items() if k in keys and isinstance(v, bytes)}

    def write_atomic(self, name: str, data: bytes, durable: bool = True) -> None:
        """One PUT: the object appears whole (`durable` is implied)."""
        self._call(name, lambda: self.fs.pipe_file(self.key(name), data))

    def make_dir(self, sub: str) -> None:
        """Nothing: prefixes need no creating."""

    def sync(self) -> None:
        """Nothing: a completed PUT is durable."""

    def remove(self, name: str) -> None:
        """Delete an object or everything under a prefix; absent is fine."""
        info = self._info(name)
        if info is None:
            return
        recursive = info.get("type") == "directory"
        with contextlib.suppress(FileNotFoundError):
            self._call(name, lambda: self.fs.rm(self.key(name), recursive=recursive))

    def remove_files(self, names: Iterable[str]) -> None:
        keys = [self.key(n) for n in names]
        if keys:
            with contextlib.suppress(FileNotFoundError):
                self._call("", lambda: self.fs.rm(keys))

    def remove_temporaries(self) -> int:
        """Nothing to remove: object storage gets no temporary names."""
        return 0

    def upload(self, source: Path, name: str) -> None:
        """Put the local file `source` at `name` (retried); on failure no partial object stays.

        Raises:
            OSError: naming the object's URL.
        """
        if source.is_dir():
            raise ConfigError(f"{self.show(name)}: a shard folder cannot be written to object storage "
                              "(one request per file); choose a layout that writes shard files")
        try:
            self._call(name, lambda: self.fs.put_file(str(source), self.key(name)))
        except BaseException:
            if self.protocol not in ATOMIC_PROTOCOLS:
                with contextlib.suppress(Exception):
                    self.fs.rm_file(self.key(name))
            raise

    def download(self, name: str, target: Path) -> None:
        """Get the object `name` into the local file `target` (retried)."""
        self._call(name, lambda: self.fs.get_file(self.key(name), str(target)))
