"""The inputs and outputs of an ONNX file (names, element types, shapes), read from its protobuf.

OpenCV's DNN module does not report a model's declared input shape, and the ``onnx`` package
is not a dependency, so the few fields needed to check a model and choose its tensor layout are
read here straight from the protobuf wire format: ``ModelProto.graph`` (field 7) ->
``GraphProto.input`` / ``output`` (11 / 12, ``ValueInfoProto``) and ``initializer`` (5, whose
names are removed from the inputs: old exporters list weights as inputs too). Field numbers are
those of onnx/onnx.proto, stable since IR version 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Protobuf wire types (protobuf encoding spec).
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5

ELEM_FLOAT = 1
"""``TensorProto.FLOAT``, the element type every MTCNN export uses."""

Dim = int | str | None
"""A fixed size, a symbolic name (``"N"``, ``"h"``), or None when the file says nothing."""


class OnnxFormatError(ValueError):
    """The bytes are not a readable ONNX ``ModelProto``."""


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output: its name, element type (``ELEM_FLOAT`` = 1) and dims."""

    name: str
    elem_type: int
    dims: tuple[Dim, ...]


@dataclass(frozen=True)
class OnnxSignature:
    """Graph inputs (initializers excluded) and outputs, in file order."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


def _fields(data: memoryview):
    """Yield ``(field_number, wire_type, value)``; LEN values are memoryviews, others ints."""
    pos, end = 0, len(data)
    while pos < end:
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if field == 0:
            raise OnnxFormatError("field number 0")
        if wire == _VARINT:
            value, pos = _varint(data, pos)
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            if pos + length > end:
                raise OnnxFormatError("truncated field")
            value, pos = data[pos:pos + length], pos + length
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if pos + size > end:
                raise OnnxFormatError("truncated field")
            value, pos = int.from_bytes(data[pos:pos + size], "little"), pos + size
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
        yield field, wire, value


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise OnnxFormatError("bad varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _text(value: memoryview) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise OnnxFormatError("a name is not UTF-8") from None


def _dim(data: memoryview) -> Dim:
    for field, wire, value in _fields(data):
        if field == 1 and wire == _VARINT:       # Dimension.dim_value (int64, two's complement)
            return value - (1 << 64) if value >= 1 << 63 else value
        if field == 2 and wire == _LEN:          # Dimension.dim_param
            return _text(value)
    return None


def _tensor_info(data: memoryview) -> TensorInfo:
    name, elem_type, dims = "", 0, ()
    for field, wire, value in _fields(data):
        if field == 1 and wire == _LEN:          # ValueInfoProto.name
            name = _text(value)
        elif field == 2 and wire == _LEN:        # ValueInfoProto.type -> TypeProto
            for tfield, twire, tvalue in _fields(value):
                if tfield == 1 and twire == _LEN:    # TypeProto.tensor_type
                    elem_type, dims = _tensor_type(tvalue)
    return TensorInfo(name, elem_type, dims)


def _tensor_type(data: memoryview) -> tuple[int, tuple[Dim, ...]]:
    elem_type, dims = 0, []
    for field, wire, value in _fields(data):
        if field == 1 and wire == _VARINT:       # TypeProto.Tensor.elem_type
            elem_type = value
        elif field == 2 and wire == _LEN:        # TypeProto.Tensor.shape -> TensorShapeProto
            dims = [_dim(d) for f, w, d in _fields(value) if f == 1 and w == _LEN]
    return elem_type, tuple(dims)


def _initializer_name(data: memoryview) -> str:
    for field, wire, value in _fields(data):
        if field == 8 and wire == _LEN:          # TensorProto.name
            return _text(value)
    return ""


def parse_onnx_signature(blob: bytes) -> OnnxSignature:
    """The signature of a serialised ``ModelProto``.

    Raises:
        OnnxFormatError: the bytes are not protobuf, or hold no graph with inputs and outputs.
    """
    graph = None
    has_ir_version = False
    for field, wire, value in _fields(memoryview(blob)):
        if field == 1 and wire == _VARINT:       # ModelProto.ir_version
            has_ir_version = True
        elif field == 7 and wire == _LEN:        # ModelProto.graph
            graph = value
    if graph is None or not has_ir_version:
        raise OnnxFormatError("no ir_version and graph")
    inputs, outputs, initializers = [], [], set()
    for field, wire, value in _fields(graph):
        if wire != _LEN:
            continue
        if field == 11:
            inputs.append(_tensor_info(value))
        elif field == 12:
            outputs.append(_tensor_info(value))
        elif field == 5:
            initializers.add(_initializer_name(value))
    if not inputs or not outputs:
        raise OnnxFormatError("the graph declares no inputs or no outputs")
    return OnnxSignature(tuple(t for t in inputs if t.name not in initializers), tuple(outputs))


def read_onnx_signature(path: str | Path) -> OnnxSignature:
    """`parse_onnx_signature` of a file; OSError when it cannot be read."""
    return parse_onnx_signature(Path(path).read_bytes())
