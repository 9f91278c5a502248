"""``samplegen verify OUT``: every file of an output folder (or object-storage prefix) against its manifest."""
from __future__ import annotations

import click

from samplegen.cli import cli
from samplegen.cli.output import print_json
from samplegen.engine.storage import open_output, output_location
from samplegen.engine.verify import verify_output
from samplegen.errors import RunError


@cli.command("verify")
@click.argument("out_dir", type=click.Path(file_okay=False))
def verify_command(out_dir: str) -> None:
    """Hash every file the manifest lists and compare size and SHA-256; also report shard-named
    files it does not list, temporary files and an unfinished run. OUT_DIR is a folder or a URL
    (s3://BUCKET/PREFIX, file:///ABS/PATH).

    Exit 0 when the folder holds exactly its manifest's complete run; 1 otherwise, with the list
    on stdout (JSON) and one stderr line per problem.
    """
    folder = open_output(output_location(out_dir))
    with folder.lock(shared=True):  # not while a run writes the folder (no lock in object storage)
        report = verify_output(folder)
    print_json(report.as_json())
    if not report.ok:
        for name, problem in report.problems:
            click.echo(f"samplegen: {folder.show(name)}: {problem}", err=True)
        count = len(report.problems)
        raise RunError(f"{folder.show()}: {count} problem{'s' if count > 1 else ''}; --resume rewrites damaged "
                       "shards and removes unlisted ones")
