"""The tiny licence-clean sample that ships inside the package (two public-domain photos, MTCNN's
P-Net and R-Net as ONNX).

See README.txt beside this file for the sources. Commands run on it when given no annotations.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

ROOT = Path(str(resources.files(__name__)))
WIDER = ROOT / "wider_face_sample_bbx_gt.txt"
FACEPOINTS = ROOT / "facepoints_sample.txt"
COCO = ROOT / "coco_sample.json"
PNET = ROOT / "pnet.onnx"
RNET = ROOT / "rnet.onnx"
