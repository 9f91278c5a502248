"""samplegen: turn raw detection annotations into ready-to-train samples, offline."""
from __future__ import annotations

__version__ = "0.1.0"

from samplegen.outputs import read_anchors, read_mtcnn  # noqa: E402
from samplegen.record import Dataset, Record  # noqa: E402

__all__ = ["Dataset", "Record", "__version__", "read_anchors", "read_mtcnn"]
