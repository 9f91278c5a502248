"""Loading PNet / RNet ONNX models into OpenCV's DNN module, checked against what the cascade needs.

A model is checked before it is used: it must parse as ONNX, have one float input of rank 4 with
3 channels on axis 1 (NCHW) or 3 (NHWC, width/height swapped), a free height and width (PNet) or
``size x size`` (RNet), the preset's output names for its layout, and produce outputs of the
expected shapes on a probe input of zeros. Any failure is one `ConfigError` naming the file and
what was expected (an ONet given as RNet, a JPEG, a renamed output ...).

``cv2.dnn.Net`` objects cannot be pickled. Workers therefore receive a `NetSpec` (paths only)
and call `load_nets`, which loads each (spec, config) once per process and then returns the
cached nets.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from samplegen.detect.config import DetectConfig, InputConfig, Layout, OutputNames
from samplegen.detect.layout import CHANNEL_AXIS, layout_of_input, spatial_dims
from samplegen.detect.onnx_signature import ELEM_FLOAT, OnnxFormatError, OnnxSignature, read_onnx_signature
from samplegen.errors import ConfigError

Kind = Literal["pnet", "rnet"]

HAS_CLASSIC_ENGINE = hasattr(cv2.dnn, "ENGINE_CLASSIC")
"""OpenCV 5.0 has a classic and a new DNN engine; 5.1 removed the classic one."""


def dnn_engine(name: Literal["classic", "new"]) -> int:
    """The ``cv2.dnn`` engine flag a preset's engine name stands for on the installed OpenCV.

    OpenCV 5.0 has two engines, the classic one (``ENGINE_CLASSIC``) and the new one
    (``ENGINE_NEW``), and each fails on one of the real exports (see the presets). OpenCV 5.1
    removed the classic engine: its one engine (``ENGINE_OPENCV``) is 5.0's new engine with that
    failure fixed (it gives 5.0's new-engine outputs bit for bit where those were right, and the
    classic ones to float rounding on the Keras RNet), so both names mean it there.
    """
    if HAS_CLASSIC_ENGINE:
        return cv2.dnn.ENGINE_CLASSIC if name == "classic" else cv2.dnn.ENGINE_NEW
    return cv2.dnn.ENGINE_OPENCV


_CHANNELS = {"regression": 4, "prob": 2}  # output channels of both nets: 4 offsets, 2 classes


@dataclass(frozen=True)
class NetSpec:
    """Picklable description of the nets a worker loads: model paths (RNet optional)."""

    pnet: str
    rnet: str | None = None


class Net:
    """One loaded model: runs a blob and counts the time spent inside ``net.forward``.

    Attributes:
        path, kind, layout: the model file, ``pnet``/``rnet`` and its resolved layout.
        outputs: the `OutputNames` read on each forward.
        forward_seconds, forward_calls: accumulated ``setInput`` + ``forward`` time and calls
            (the forward-pass floor a benchmark compares the whole detection with).
    """

    def __init__(self, path: str, kind: Kind, layout: Layout, outputs: OutputNames, net: cv2.dnn.Net) -> None:
        self.path, self.kind, self.layout, self.outputs, self._net = path, kind, layout, outputs, net
        self._names = [outputs.regression, outputs.prob]
        self.forward_seconds = 0.0
        self.forward_calls = 0

    def forward(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(regression, prob)`` raw outputs for a float32 input blob in the model's layout."""
        start = time.perf_counter()
        self._net.setInput(blob)
        regression, prob = self._net.forward(self._names)
        self.forward_seconds += time.perf_counter() - start
        self.forward_calls += 1
        return regression, prob


@dataclass(frozen=True)
class Nets:
    """The cascade's loaded models; `rnet` is None for a PNet-only run."""

    pnet: Net
    rnet: Net | None


def _fail(path: str, kind: Kind, message: str) -> ConfigError:
    return ConfigError(f"{path}: not a usable {kind.upper()} model: {message}")


def _dims_text(dims: tuple) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def _read_signature(path: str, kind: Kind) -> OnnxSignature:
    try:
        return read_onnx_signature(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {kind.upper()} model: {exc.strerror or exc}") from None
    except OnnxFormatError as exc:
        raise _fail(path, kind, f"not an ONNX file ({exc}); expected an .onnx export of the {kind.upper()}") from None


def resolve_layout(path: str, kind: Kind, signature: OnnxSignature, cfg: InputConfig, rnet_size: int) -> Layout:
    """The model's layout, after checking its single input against `kind`.

    Args:
        path, kind: the model file and the net it should be, for the messages.
        signature: the model's declared inputs and outputs.
        cfg: ``input`` settings; ``layout: auto`` reads the layout from the input shape, a fixed
            layout must agree with it (or decide an ambiguous shape).
        rnet_size: the RNet input side an RNet's fixed height and width must equal.

    Raises:
        ConfigError: naming the file, what was expected and what the model declares.
    """
    if len(signature.inputs) != 1:
        names = ", ".join(t.name for t in signature.inputs)
        raise _fail(path, kind, f"expected one image input, the model has {len(signature.inputs)} ({names})")
    tensor = signature.inputs[0]
    dims = tensor.dims
    if tensor.elem_type != ELEM_FLOAT or len(dims) != 4:
        raise _fail(path, kind, f"expected a float32 input of rank 4, got '{tensor.name}' {_dims_text(dims)} "
                                f"(element type {tensor.elem_type})")
    found = layout_of_input(dims)
    if cfg.layout != "auto":
        if found is not None and found != cfg.layout:
            raise _fail(path, kind, f"input.layout is {cfg.layout} but the input '{tensor.name}' "
                                    f"{_dims_text(dims)} is {found}")
        layout: Layout = cfg.layout
    elif found is None:
        raise _fail(path, kind, f"cannot tell NCHW from NHWC by the input '{tensor.name}' {_dims_text(dims)} "
                                "(3 channels on axis 1 or 3 expected); set input.layout")
    else:
        layout = found
    height, width = spatial_dims(dims, layout)
    if kind == "pnet" and isinstance(height, int) and isinstance(width, int):
        raise _fail(path, kind, f"expected an input of any height and width (fully convolutional), got a fixed "
                                f"{height}x{width} input {_dims_text(dims)}: an RNet or ONet?")
    if kind == "rnet" and any(isinstance(d, int) and d != rnet_size for d in (height, width)):
        raise _fail(path, kind, f"expected a {rnet_size}x{rnet_size} input (rnet.size), got "
                                f"{height}x{width} {_dims_text(dims)}: a PNet or ONet?")
    return layout


def _check_outputs(path: str, kind: Kind, signature: OnnxSignature, layout: Layout, names: OutputNames) -> None:
    present = [t.name for t in signature.outputs]
    missing = [n for n in (names.regression, names.prob) if n not in present]
    if missing:
        raise _fail(path, kind, f"expected outputs '{names.regression}' (regression) and '{names.prob}' (prob) "
                                f"for the {layout} layout (input.{layout}.{kind}_outputs), missing "
                                f"{', '.join(repr(m) for m in missing)}; the model has {', '.join(present)}")


def _probe(net: Net, cfg: DetectConfig) -> None:
    """Run zeros through the model and check the output shapes: catches engines that cannot run it.

    PNet gets one window (``net_size`` square). RNet gets a full batch (``rnet.batch_size``):
    that fails here for a model that only runs at batch 1 (OpenCV 5.0's classic engine on the
    PyTorch RNet), and the first forward sets the largest batch the net will see, because the
    classic engine crashes (segfault) when a batch outgrows a first one of 12 samples or fewer.
    """
    if net.kind == "pnet":
        batch, side = 1, cfg.pyramid.net_size
    else:
        batch, side = cfg.rnet.batch_size, cfg.rnet.size
    shape = (batch, 3, side, side) if net.layout == "nchw" else (batch, side, side, 3)
    try:
        regression, prob = net.forward(np.zeros(shape, np.float32))
    except cv2.error as exc:
        message = str(exc).strip().splitlines()[-1]
        raise _fail(net.path, net.kind, f"OpenCV cannot run it on a {list(shape)} input ({message}); "
                                        f"another input.{net.layout}.{net.kind}_engine may") from None
    finally:
        net.forward_seconds, net.forward_calls = 0.0, 0
    for label, out in (("regression", regression), ("prob", prob)):
        if net.kind == "pnet":
            ok = out.ndim == 4 and out.shape[CHANNEL_AXIS[net.layout]] == _CHANNELS[label]
        else:
            ok = out.shape == (batch, _CHANNELS[label])
        if not ok:
            name = getattr(net.outputs, label)
            raise _fail(net.path, net.kind, f"output '{name}' ({label}) has shape {list(out.shape)} on a "
                                            f"{list(shape)} input, expected {_CHANNELS[label]} channels")


def load_net(path: str | Path, kind: Kind, cfg: DetectConfig) -> Net:
    """Load and check one model: signature, layout, output names, OpenCV load, probe run.

    Args:
        path: the .onnx file.
        kind: ``pnet`` or ``rnet``, what the file should hold.
        cfg: the `DetectConfig` (input layout, per-layout engines and output names, sizes).

    Raises:
        ConfigError: naming the file and what was expected, whatever the step that failed.
    """
    path = str(path)
    signature = _read_signature(path, kind)
    layout = resolve_layout(path, kind, signature, cfg.input, cfg.rnet.size)
    layout_cfg = cfg.input.for_layout(layout)
    names = layout_cfg.pnet_outputs if kind == "pnet" else layout_cfg.rnet_outputs
    _check_outputs(path, kind, signature, layout, names)
    try:
        dnn = cv2.dnn.readNetFromONNX(path, dnn_engine(getattr(layout_cfg, f"{kind}_engine")))
    except cv2.error as exc:
        message = str(exc).strip().splitlines()[-1]
        raise _fail(path, kind, f"OpenCV cannot load it ({message})") from None
    net = Net(path, kind, layout, names, dnn)
    _probe(net, cfg)
    return net


@functools.lru_cache(maxsize=4)
def load_nets(spec: NetSpec, cfg: DetectConfig) -> Nets:
    """The nets of `spec`, loaded once per process and cached by (spec, config).

    Workers call this for every image: the first call loads and checks the models, the next
    ones return the same `Nets`.
    """
    pnet = load_net(spec.pnet, "pnet", cfg)
    rnet = load_net(spec.rnet, "rnet", cfg) if spec.rnet else None
    return Nets(pnet, rnet)
