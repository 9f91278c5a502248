"""A tqdm bar on stderr, off when stderr is not a terminal (pipelines, CI) or on request."""
from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str, enabled: bool = True) -> tqdm:
    """Images-done bar; stdout stays reserved for the final JSON summary."""
    show = enabled and sys.stderr.isatty()
    return tqdm(total=total, desc=description, unit="img", file=sys.stderr, disable=not show,
                dynamic_ncols=True, leave=False)
