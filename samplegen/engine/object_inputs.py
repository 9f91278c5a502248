"""Reading inputs from object storage: annotation files and image objects under an fsspec URL.

A run may take its annotations (``--annotations s3://bucket/wider_face_train_bbx_gt.txt``) and
its images (``--images s3://bucket/WIDER_train/images``) from object storage, as a cluster's
nodes usually see them. What is read, and how:

* an annotation file or folder is downloaded once, in the parent, into a private temporary
  folder that the run removes when it has read it (`download`);
* image sizes the annotation does not record (WIDER, facial-point lists) come from the first
  `HEAD_BYTES` of each object, fetched concurrently (`object_heads`); a JPEG whose frame header
  lies beyond them (a large EXIF block) is fetched whole;
* a worker reads each image object whole (`read_object`) and decodes it from memory.

A missing object is reported as missing (``FileNotFoundError``: the image is skipped, the
annotation is an input error); any other failure is retried where it is transient
(`samplegen.engine.object_store.retrying`) and then raised as a one-line `OSError` naming the
URL, so a network fault fails the shard instead of silently skipping images (a retried or
resumed run then gives the same bytes). Credentials come from the environment, as for outputs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from samplegen.engine.object_store import _filesystem, named_error, retrying
from samplegen.errors import ConfigError

HEAD_BYTES = 1 << 16   # a JPEG's frame header follows its EXIF block, which is < 64 KB by the standard
HEAD_BATCH = 512       # objects per concurrent request batch
T = TypeVar("T")


def _fs_path(url: str) -> tuple[Any, str]:
    """The file system of `url` and `url`'s path in it. fsspec caches the instances itself,
    per process: an instance must not be reused in a forked child (s3fs refuses it).

    Raises:
        ConfigError: a URL naming no bucket (``s3://``), or without its fsspec driver.
    """
    if not url.partition("://")[2].strip("/"):
        raise ConfigError(f"{url}: names no bucket or object")
    return _filesystem(url)


def _reading(action: Callable[[], T], url: str) -> T:
    """`retrying(action, url)`; an exception of the storage library that is not a storage error
    (a driver bug, a malformed answer) is a one-line `OSError` naming `url` too, not a traceback."""
    try:
        return retrying(action, url)
    except (OSError, ConfigError):
        raise
    except Exception as exc:
        raise named_error(exc, url) from None


def read_object(url: str) -> bytes:
    """The bytes of the object at `url`.

    Raises:
        FileNotFoundError: no such object.
        OSError: any other failure, after the retries, naming `url`.
    """
    fs, path = _fs_path(url)
    return _reading(lambda: fs.cat_file(path), url)


def object_heads(urls: Sequence[str], size: int = HEAD_BYTES) -> list[bytes | None]:
    """The first `size` bytes of each object of `urls` (all of a smaller one), None where missing;
    `urls` are objects of one file system (the images under one root), read `HEAD_BATCH` at a time.

    Raises:
        OSError: a failure other than a missing object, naming the object.
    """
    if not urls:
        return []
    fs, _ = _fs_path(urls[0])
    paths = [fs._strip_protocol(url) for url in urls]
    found: list[bytes | None] = []
    for start in range(0, len(paths), HEAD_BATCH):
        batch = paths[start:start + HEAD_BATCH]
        got = _reading(lambda: fs.cat_ranges(batch, [0] * len(batch), [size] * len(batch), on_error="return"),
                       urls[start])
        for url, path, value in zip(urls[start:], batch, got):
            if isinstance(value, BaseException) and not isinstance(value, FileNotFoundError):
                # One more try on its own (the batch call does not retry a single object; an
                # empty object fails a ranged read): the error, if any, is one naming the URL.
                try:
                    value = _reading(lambda: _head(fs, path, size), url)
                except FileNotFoundError as missing:
                    value = missing
            found.append(None if isinstance(value, FileNotFoundError) else bytes(value))
    return found


def _head(fs: Any, path: str, size: int) -> bytes:
    try:
        return fs.cat_file(path, start=0, end=size)
    except FileNotFoundError:
        raise
    except Exception:
        # An empty object answers a ranged GET with 416 (range not satisfiable): no header.
        if int(fs.info(path).get("size") or 0) == 0:
            return b""
        raise


def exists(url: str) -> bool:
    fs, path = _fs_path(url)
    return bool(_reading(lambda: fs.exists(path), url))


def download(url: str, folder: Path) -> Path:
    """Copy the object, or every object under the prefix, at `url` into `folder`; the local path.

    The local copy keeps the last path component's name (readers and `--format auto` look at
    it: ``.json``, ``.txt``, a VOC ``Annotations`` folder).

    Raises:
        FileNotFoundError: nothing at `url`.
        OSError: a failure, naming `url`.
    """
    fs, path = _fs_path(url)
    name = path.rstrip("/").rsplit("/", 1)[-1] or "input"
    target = folder / name
    info = _reading(lambda: fs.info(path), url)
    if info.get("type") == "directory":
        _reading(lambda: fs.get(path.rstrip("/") + "/", str(target) + "/", recursive=True), url)
        target.mkdir(exist_ok=True)   # an empty prefix is an empty folder
    else:
        _reading(lambda: fs.get_file(path, str(target)), url)
    return target
