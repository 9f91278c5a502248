"""One run per output folder at a time: an exclusive `flock` on ``OUT/.samplegen.lock``.

Two runs writing one folder would interleave manifests and shards. The lock file holds the
holder's pid and host, so the second run can say who is in the way; the kernel releases the lock
when its holder dies however it dies (kill -9 included), so a stale file never blocks a run. The
file is removed on release, which keeps a finished output folder free of run-dependent bytes; a
run that opened the file just before it was removed notices the change of inode and retries.
"""
from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path

from samplegen.errors import ConfigError

LOCK_NAME = ".samplegen.lock"


class OutputLock:
    """``with OutputLock(out):`` holds `out` exclusively (`shared=True`: only against writers)."""

    def __init__(self, folder: Path, shared: bool = False) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.shared = shared
        self._fd: int | None = None

    def __enter__(self) -> "OutputLock":
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        while True:
            try:
                fd = self._open()
            except FileNotFoundError:
                if self.shared:
                    return self  # no run has the folder: a reader leaves no lock file behind
                raise
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "pid unknown"
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                raise ConfigError(f"{self.path.parent} is in use by another samplegen run "
                                  f"(pid {holder}); wait for it to end or choose another --out") from None
            if self._same_file(fd):
                break
            os.close(fd)  # the previous holder removed the file after we opened it: try again
        if not self.shared:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def _open(self) -> int:
        if self.shared:
            return os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:  # read-only, immutable, not ours: say which folder
            raise type(exc)(exc.errno, exc.strerror, str(self.path.parent)) from None

    def _same_file(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is None:
            return
        if not self.shared:
            self.path.unlink(missing_ok=True)  # still holding the lock: nobody else uses this file
        os.close(self._fd)
        self._fd = None
