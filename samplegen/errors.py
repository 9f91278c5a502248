"""Exceptions with exit codes: the only way library code reports a problem to the CLI.

Data problems that are expected (a missing image) are counted, not raised. What is raised here
stops the run: `InputError` and `ConfigError` exit with 2 (the user's input is wrong), `RunError`
with 1 (the run could not complete). `samplegen.cli` is the only place that catches them.
"""
from __future__ import annotations

from pathlib import Path

EXIT_RUN = 1
EXIT_USAGE = 2


class SamplegenError(Exception):
    """Base class; `exit_code` is what the CLI exits with."""

    exit_code: int = EXIT_RUN


class InputError(SamplegenError):
    """A malformed annotation or input file, rendered as ``FILE:LINE: message``.

    `line` is 1-based; 0 (or None) means the problem concerns the file as a whole.
    """

    exit_code = EXIT_USAGE

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(SamplegenError):
    """A bad configuration value, preset, option combination or output folder state."""

    exit_code = EXIT_USAGE


class RunError(SamplegenError):
    """The run failed (too many unreadable images, a worker died, ...)."""

    exit_code = EXIT_RUN
