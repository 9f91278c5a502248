"""Exceptions with exit codes: the only way library code reports a problem to the CLI.

Data problems that are expected (a missing image) are counted, not raised. What is raised here
stops the run: `InputError` and `ConfigError` exit with 2 (the user's input is wrong), `RunError`
with 1 (the run could not complete), `Interrupted` with 130 or 143 (Ctrl-C or SIGTERM, after the
run cleaned up). `samplegen.cli` is the only place that catches them.
"""
from __future__ import annotations

from pathlib import Path

EXIT_RUN = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_TERMINATED = 143   # 128 + SIGTERM


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


class Interrupted(SamplegenError):
    """The run was stopped by Ctrl-C (exit 130) or SIGTERM (exit 143) and cleaned up after itself."""

    def __init__(self, message: str, exit_code: int = EXIT_INTERRUPTED) -> None:
        self.exit_code = exit_code
        super().__init__(message)

    def __reduce__(self):  # pickled across processes with its exit code
        return type(self), (str(self), self.exit_code)


class Terminated(BaseException):
    """Raised in the main thread by the CLI's SIGTERM handler (`timeout`, SLURM and Kubernetes
    send SIGTERM), so a run unwinds from SIGTERM as it does from Ctrl-C's `KeyboardInterrupt`.

    A `BaseException`, like `KeyboardInterrupt`, so no ``except Exception`` swallows it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signum)
