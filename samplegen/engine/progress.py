"""Progress on stderr: a tqdm bar on a terminal, a plain line every few seconds elsewhere.

Under nohup, in CI logs or a SLURM output file stderr is not a terminal, and a bar redrawn with
carriage returns would be noise; there, `LineProgress` writes one line per `interval` seconds::

    samplegen mtcnn: 1,200 of 12,880 images (9 %), 41.2 images/s, ETA 0:04:43

and, if it wrote any, a last line when the run ends. The interval is `PROGRESS_SECONDS`, or the
``SAMPLEGEN_PROGRESS_SECONDS`` environment variable (0 writes a line at every update). Lines are
written when the engine reports a finished shard, so a shard longer than the interval delays the
next line. ``--no-progress`` (``enabled=False``) silences both kinds.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, TextIO

from tqdm import tqdm

PROGRESS_SECONDS = 30.0
INTERVAL_VARIABLE = "SAMPLEGEN_PROGRESS_SECONDS"


class LineProgress:
    """`update()` / `close()` like a tqdm bar, writing a line every `interval` seconds to `stream`.

    The rate counts images done since the first `update()` (the engine's first update reports the
    images of shards kept from a previous run, which took no time in this one).
    """

    def __init__(self, total: int, description: str, interval: float, stream: TextIO,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.description, self.interval = total, description, interval
        self.stream, self.clock = stream, clock
        self.done = 0
        self.start: tuple[float, int] | None = None  # (time, images) at the first update
        self.last_line = clock()
        self.lines = 0

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if self.start is None:
            self.start = (now, self.done)
            return
        if now - self.last_line >= self.interval:
            self.write(now)

    def close(self) -> None:
        """A final line, only when the run was long enough to have written one before."""
        if self.lines:
            self.write(self.clock())

    def write(self, now: float) -> None:
        self.last_line = now
        self.lines += 1
        print(f"samplegen {self.description}: {self.status(now)}", file=self.stream, flush=True)

    def status(self, now: float) -> str:
        """``1,200 of 12,880 images (9 %), 41.2 images/s, ETA 0:04:43``."""
        share = f" ({100 * self.done // self.total} %)" if self.total else ""
        text = f"{self.done:,} of {self.total:,} images{share}"
        started, base = self.start if self.start is not None else (now, self.done)
        elapsed = now - started
        if elapsed <= 0 or self.done <= base:
            return text
        rate = (self.done - base) / elapsed
        remaining = max(self.total - self.done, 0)
        return f"{text}, {rate:.1f} images/s, ETA {_clock(remaining / rate)}"


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def progress_interval(environ: dict | None = None) -> float:
    """Seconds between progress lines: ``SAMPLEGEN_PROGRESS_SECONDS`` or `PROGRESS_SECONDS`."""
    text = (os.environ if environ is None else environ).get(INTERVAL_VARIABLE)
    if text is None:
        return PROGRESS_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also nan
        from samplegen.errors import ConfigError

        raise ConfigError(f"environment {INTERVAL_VARIABLE}={text!r}: expected seconds >= 0")
    return value


def progress_bar(total: int, description: str, enabled: bool = True) -> tqdm | LineProgress:
    """Images-done progress on stderr (stdout stays reserved for the final JSON summary): a tqdm
    bar on a terminal, `LineProgress` lines otherwise, nothing (a disabled bar) when not `enabled`."""
    if enabled and not sys.stderr.isatty():
        return LineProgress(total, description, progress_interval(), sys.stderr)
    return tqdm(total=total, desc=description, unit="img", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, leave=False)
