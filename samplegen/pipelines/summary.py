"""`RunSummary`: what a library run returns and the CLI prints."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


@dataclass(frozen=True)
class RunSummary:
    """The outcome of one command: `as_json` is exactly the object the CLI prints on stdout.

    Attributes:
        command: ``mtcnn``, ``anchors``, ...
        out: the output folder, a path or URL (None for runs that write none, e.g. ``--dry-run``).
        fields: the printed JSON object.
        manifest: the final manifest as written (None without an output folder).
    """

    command: str
    out: Path | str | None
    fields: Mapping[str, Any]
    manifest: Mapping[str, Any] | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        return dict(self.fields)

    @property
    def samples(self) -> int:
        """Samples written (0 for a dry run)."""
        return int(self.fields.get("samples", 0))

    @property
    def images(self) -> int:
        return int(self.fields.get("images", 0))

    @property
    def counts(self) -> dict[str, int]:
        """Per class (mtcnn) or per label (anchors) totals."""
        return dict(self.fields.get("counts", {}))

    @property
    def skipped_images(self) -> int:
        return int(self.fields.get("skipped_images", 0))
