"""The ``samplegen`` command group and the one place that maps errors to exit codes.

Exit codes: 0 success; 1 the run failed (``RunError``, e.g. over ``--max-errors``, a worker died)
or the file system did (``OSError``: disk full, read-only folder...); 2 bad input, configuration
or usage (``InputError``, ``ConfigError``, click usage errors); 130 interrupted (Ctrl-C); 143
terminated (SIGTERM, handled like Ctrl-C). stdout carries only each command's final JSON object;
messages go to stderr, one line each.
"""
from __future__ import annotations

import ctypes
import functools
import signal
import sys

import click

from samplegen import __version__
from samplegen.errors import EXIT_INTERRUPTED, EXIT_RUN, SamplegenError, Terminated


@functools.cache
def _command_modules() -> dict[str, str]:
    """Command name -> its module in this package (``fit_anchors_cmd`` is ``fit-anchors``)."""
    import pkgutil

    return {m.name[:-len("_cmd")].replace("_", "-"): m.name for m in pkgutil.iter_modules(__path__)
            if m.name.endswith("_cmd")}


class _Commands(click.Group):
    """The command group, importing a command's module when that command is asked for: ``samplegen
    inspect`` does not load the anchors code (a few tenths of a second of start-up in every shell
    pipeline). Listing the commands (``--help``) imports them all."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_command_modules()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            module = _command_modules().get(name)
            if module is not None:
                import importlib

                importlib.import_module(f"{__name__}.{module}")   # its decorator attaches it to `cli`
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="samplegen")
@click.option("--debug", is_flag=True, help="Show the Python traceback of an error.")
def cli(debug: bool) -> None:
    """Turn detection annotations into ready-to-train samples, offline.

    JSON summary on stdout, progress and messages on stderr.
    """


def _register() -> None:
    """Import every command's module (each attaches its command to `cli`): what listing them does."""
    import importlib

    for module in _command_modules().values():
        importlib.import_module(f"{__name__}.{module}")


def _terminate(signum: int, frame: object) -> None:
    # Once: a second SIGTERM while the run cleans up must not cut the clean-up short.
    signal.signal(signum, signal.SIG_IGN)
    raise Terminated(signum)


def _os_error_line(exc: OSError) -> str:
    """``PATH: errno text`` (disk full, read-only folder, a path below a file...)."""
    where = exc.filename if exc.filename is not None else ""
    text = exc.strerror or str(exc)
    return f"{where}: {text}" if where else text


M_MMAP_THRESHOLD = -3            # glibc's mallopt parameter
LARGE_BLOCK = 128 << 10         # glibc's initial mmap threshold, kept from sliding


def _map_large_blocks() -> None:
    """Keep glibc allocating blocks of `LARGE_BLOCK` bytes or more with mmap, for good.

    glibc raises its mmap threshold to the size of each large block freed, so after the parent's
    first multi-MB transients (the balance's draws) later ones land in the heap and stay in its
    RSS (~0.7 KB per image of a full-WIDER plan). Here, for the command's own process only: a
    library call does not change its host's allocator. Nothing where libc is not glibc.
    """
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK)
    except (AttributeError, OSError):
        pass


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group, print errors as one stderr line, exit with a code."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    # SIGTERM (timeout, SLURM, Kubernetes) unwinds the run like Ctrl-C: workers stopped, nothing
    # half-written left, the resume hint printed.
    previous = signal.signal(signal.SIGTERM, _terminate)
    _map_large_blocks()
    try:
        _run(args, debug)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: list[str], debug: bool) -> None:
    try:
        cli.main(args=args, prog_name="samplegen", standalone_mode=False)
    except click.exceptions.Abort:
        # Ctrl-C outside a run's shard loop (which raises `Interrupted` with its own hint).
        click.echo("samplegen: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.UsageError as exc:
        # One line like every other error (click prints four), with where the usage is.
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        click.echo(f"samplegen: {exc.format_message()}{where}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("samplegen: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Terminated as exc:
        click.echo(f"samplegen: terminated by {signal.Signals(exc.signum).name}", err=True)
        sys.exit(128 + exc.signum)
    except SamplegenError as exc:
        if debug:
            raise
        click.echo(f"samplegen: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(EXIT_RUN)
    except OSError as exc:
        if debug:
            raise
        click.echo(f"samplegen: {_os_error_line(exc)}", err=True)
        sys.exit(EXIT_RUN)
    sys.exit(0)
