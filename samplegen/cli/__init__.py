"""The ``samplegen`` command group and the one place that maps errors to exit codes.

Exit codes: 0 success; 1 the run failed (``RunError``, e.g. over ``--max-errors``); 2 bad input,
configuration or usage (``InputError``, ``ConfigError``, click usage errors); 130 interrupted.
stdout carries only each command's final JSON object; messages go to stderr.
"""
from __future__ import annotations

import sys

import click

from samplegen import __version__
from samplegen.errors import SamplegenError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="samplegen")
@click.option("--debug", is_flag=True, help="Show the Python traceback of an error.")
def cli(debug: bool) -> None:
    """Turn detection annotations into ready-to-train samples, offline.

    JSON summary on stdout, progress and messages on stderr.
    """


def _register() -> None:
    # Commands attach themselves to `cli` on import; every `*_cmd` module of this package is one
    # (imported here, not at the top, because they import `cli` from this module).
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if module.name.endswith("_cmd"):
            importlib.import_module(f"{__name__}.{module.name}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group, print errors as one stderr line, exit with a code."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    _register()
    try:
        cli.main(args=args, prog_name="samplegen", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("samplegen: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("samplegen: interrupted; completed shards are kept, rerun with --resume", err=True)
        sys.exit(130)
    except SamplegenError as exc:
        if debug:
            raise
        click.echo(f"samplegen: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    sys.exit(0)
