"""What a run wrote, read back: samples of any layout (`read`) and their statistics (`stats`)."""
from samplegen.outputs.read import read_anchors, read_mtcnn

__all__ = ["read_anchors", "read_mtcnn"]
