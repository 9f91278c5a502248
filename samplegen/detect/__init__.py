"""MTCNN inference (PNet, then optionally RNet) with OpenCV's DNN module: the core of `samplegen detect`.

Per image, in a worker process::

    cfg = load_detect_config("ipazc")                 # or "aittsmd"; overrides as a nested dict
    nets = load_nets(NetSpec(pnet_path, rnet_path), cfg)   # loaded once per process, cached
    result = detect_faces(pixels_bgr, nets, cfg)      # DetectResult: float32 [N, 5] per stage

Modules, one concept each: `config` (the presets' dataclasses), `pyramid` (scales, level
sizes, resizing), `layout` (NCHW / NHWC-swapped tensors), `grid` (PNet map -> candidate
windows), `nms`, `refine` (calibration, squaring, rounding), `crop` (RNet windows),
`onnx_signature` (a model's declared inputs and outputs), `nets` (loading and checking models),
`cascade` (the stages and `detect_faces`).
"""
from samplegen.detect.cascade import DetectResult, detect_faces
from samplegen.detect.config import PRESETS, DetectConfig, load_detect_config
from samplegen.detect.nets import NetSpec, Nets, load_nets

__all__ = ["PRESETS", "DetectConfig", "DetectResult", "NetSpec", "Nets", "detect_faces", "load_detect_config",
           "load_nets"]
