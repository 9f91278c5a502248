"""Test-only fault injection: Python imports this at start-up when this folder is on PYTHONPATH.

With ``SAMPLEGEN_FAULT_ENOSPC_AFTER=N`` set, every file `samplegen.writers.base` opens for
writing (shard files and the manifest, through `HashingFile`) fails with ENOSPC ("No space left
on device") once the process has written N bytes through them: a full disk, in every process of
a run (the fork server and its workers start Python too, so they import this as well). Nothing
in samplegen itself knows about it.
"""
from __future__ import annotations

import builtins
import errno
import os

_LIMIT = os.environ.get("SAMPLEGEN_FAULT_ENOSPC_AFTER")


class _FillingFile:
    """A binary file that runs out of space after the process-wide byte budget."""

    written = 0

    def __init__(self, handle) -> None:
        self._handle = handle

    def write(self, data) -> int:
        size = memoryview(data).nbytes
        if _FillingFile.written + size > int(_LIMIT):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        _FillingFile.written += size
        return self._handle.write(data)

    def __getattr__(self, name):
        return getattr(self._handle, name)


def _open(file, mode="r", *args, **kwargs):
    handle = builtins.open(file, mode, *args, **kwargs)
    return _FillingFile(handle) if "w" in mode or "+" in mode else handle


if _LIMIT:
    from samplegen.writers import base

    base.open = _open  # module global shadowing the builtin for HashingFile and write_bytes_atomic
