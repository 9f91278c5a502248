"""Where a file or folder is: a local path, or a URL (``s3://bucket/key``, ``file:///abs/path``).

Every place that takes a location from the user goes through these few rules, so that a URL is
never mangled into a path (`Path` would collapse ``s3://bucket`` to ``s3:/bucket``) and a
``file://`` URL always means the same as its plain path.
"""
from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from samplegen.errors import ConfigError

URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: str | os.PathLike | None) -> bool:
    """Whether `location` is a URL (``SCHEME://...``) rather than a path; a `Path` never is."""
    return isinstance(location, str) and URL.match(location) is not None


def is_remote(location: str | os.PathLike | None) -> bool:
    """Whether `location` is an object-storage URL (any URL but ``file://``)."""
    return is_url(location) and not str(location).lower().startswith("file://")


def file_url_path(url: str) -> Path:
    """The local path of a ``file:///abs/path`` URL (``file://localhost/abs/path`` too).

    Raises:
        ConfigError: another host, or no absolute path.
    """
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise ConfigError(f"{url}: a file URL names an absolute path on this machine (file:///abs/path)")
    return Path(unquote(parts.path))


def local_or_remote(location: str | os.PathLike) -> Path | str:
    """`location` as code keeps it: the URL string of an object-storage URL (no trailing slash),
    a `Path` for a path or a ``file://`` URL."""
    if is_remote(location):
        return str(location).rstrip("/")
    return file_url_path(str(location)) if is_url(location) else Path(location)


def joined(root: str | os.PathLike, relative: str) -> Path | str:
    """`relative` (forward slashes) under `root`: a key under a URL prefix, or a path."""
    if is_remote(root):
        # Keys are not paths: "./a.jpg", "b/../a.jpg" and "b//a.jpg" name the file "a.jpg" and
        # "b/a.jpg" on disk, but other objects in a bucket. Escapes were refused where read.
        return f"{str(root).rstrip('/')}/{posixpath.normpath(relative)}"
    return Path(local_or_remote(root)) / relative
