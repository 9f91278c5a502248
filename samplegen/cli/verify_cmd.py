"""``samplegen verify OUT_DIR``: every file of an output folder against its manifest."""
from __future__ import annotations

from pathlib import Path

import click

from samplegen.cli import cli
from samplegen.cli.output import print_json
from samplegen.engine.lock import OutputLock
from samplegen.engine.verify import verify_output
from samplegen.errors import RunError


@cli.command("verify")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def verify_command(out_dir: Path) -> None:
    """Hash every file the manifest lists and compare size and SHA-256; also report shard-named
    files it does not list, temporary files and an unfinished run.

    Exit 0 when the folder holds exactly its manifest's complete run; 1 otherwise, with the list
    on stdout (JSON) and one stderr line per problem.
    """
    with OutputLock(out_dir, shared=True):  # not while a run writes the folder
        report = verify_output(out_dir)
    print_json(report.as_json())
    if not report.ok:
        for name, problem in report.problems:
            click.echo(f"samplegen: {out_dir / name}: {problem}", err=True)
        count = len(report.problems)
        raise RunError(f"{out_dir}: {count} problem{'s' if count > 1 else ''}; --resume rewrites damaged "
                       "shards and removes unlisted ones")
