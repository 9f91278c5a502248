"""What a run wrote, read back: samples of any layout (`mtcnn`, `anchors`) and their statistics (`stats`)."""
from samplegen.outputs.anchors import read_anchors
from samplegen.outputs.mtcnn import read_mtcnn

__all__ = ["read_anchors", "read_mtcnn"]
