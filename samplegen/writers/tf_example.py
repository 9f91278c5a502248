"""`tf.train.Example` protobuf bytes, encoded and decoded by hand (no TensorFlow, no protobuf).

The schema is TensorFlow's ``core/example/example.proto`` + ``feature.proto``, small and fixed::

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }      // entry: key = 1, value = 2
    Feature  { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2;
                            Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }
    FloatList { repeated float value = 1 [packed = true]; }
    Int64List { repeated int64 value = 1 [packed = true]; }

Encoding (protobuf wire format): every field is ``tag = (number << 3) | wire_type`` as a varint,
then for wire type 2 (length-delimited) a varint length and the bytes. Floats are packed
little-endian IEEE-754 float32; int64 values are packed varints, negatives as their 64-bit
two's complement (10 bytes: ``int64``, not ``sint64``). An empty list is an empty message.

Determinism: map entries are written in sorted key order (byte order of the UTF-8 keys), which
is what protobuf's own deterministic serialisation does, so the bytes are a pure function of the
features: ``Example.SerializeToString(deterministic=True)`` gives the same bytes (tested).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

_LEN = 2  # wire type of length-delimited fields
_VARINT = 0
_BYTES_LIST, _FLOAT_LIST, _INT64_LIST = 1, 2, 3  # Feature.kind field numbers
_U64 = 1 << 64
# Tags and most lengths of the MTCNN schema are below 2**14: one table lookup instead of a loop
# (encoding is per record, tens of varints each).
_SHORT = [bytes([v]) if v < 0x80 else bytes([(v & 0x7F) | 0x80, v >> 7]) for v in range(1 << 14)]


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative int below 2**64 (least significant group first)."""
    if 0 <= value < len(_SHORT):
        return _SHORT[value]
    if not 0 <= value < _U64:
        raise ValueError(f"varint out of range: {value}")
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(number: int, payload: bytes) -> bytes:
    return varint((number << 3) | _LEN) + varint(len(payload)) + payload


def bytes_feature(values: Sequence[bytes]) -> bytes:
    """A serialised `Feature` holding a BytesList of `values` (each one non-packed field)."""
    return _delimited(_BYTES_LIST, b"".join(_delimited(1, bytes(v)) for v in values))


def float_feature(values: np.ndarray | Sequence[float]) -> bytes:
    """A serialised `Feature` holding a FloatList: `values` as packed little-endian float32."""
    packed = np.ascontiguousarray(values, dtype="<f4").reshape(-1).tobytes()
    return _delimited(_FLOAT_LIST, _delimited(1, packed) if packed else b"")


def int64_feature(values: np.ndarray | Sequence[int]) -> bytes:
    """A serialised `Feature` holding an Int64List: `values` as packed varints (two's complement)."""
    packed = b"".join(varint(int(v) % _U64) for v in np.asarray(values, np.int64).reshape(-1))
    return _delimited(_INT64_LIST, _delimited(1, packed) if packed else b"")


def example_bytes(features: Mapping[str, bytes]) -> bytes:
    """A serialised `Example` from ``{key: serialised Feature}``, entries in sorted key order."""
    entries = b"".join(
        _delimited(1, _delimited(1, key.encode("utf-8")) + _delimited(2, features[key]))
        for key in sorted(features, key=lambda k: k.encode("utf-8")))
    return _delimited(1, entries)


# -- decoding: enough for samplegen's own readers (stats, show) over a written TFRecord ---------

def _read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or overlong varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: memoryview) -> list[tuple[int, int, memoryview | int]]:
    """(field number, wire type, bytes or varint value) of one message's fields, in order."""
    out, pos = [], 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == _VARINT:
            value, pos = _read_varint(data, pos)
            out.append((number, wire, value))
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated length-delimited field")
            out.append((number, wire, data[pos:pos + size]))
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def _signed(raw: int) -> int:
    return raw - _U64 if raw >= 1 << 63 else raw


def _decode_feature(data: memoryview) -> list[bytes] | np.ndarray:
    kind = _fields(data)
    if len(kind) != 1 or kind[0][1] != _LEN:
        raise ValueError("a Feature must hold exactly one list")
    number, _, body = kind[0]
    values = [(w, v) for n, w, v in _fields(body) if n == 1]
    if number == _BYTES_LIST:
        return [bytes(v) for _, v in values]
    if number == _FLOAT_LIST:  # TensorFlow always packs; an unpacked float (wire type 5) is refused
        return np.frombuffer(b"".join(bytes(v) for _, v in values), "<f4").astype(np.float32)
    if number == _INT64_LIST:
        ints = []
        for wire, v in values:
            if wire == _VARINT:  # unpacked, as protobuf parsers must also accept
                ints.append(_signed(v))
                continue
            pos = 0
            while pos < len(v):
                raw, pos = _read_varint(v, pos)
                ints.append(_signed(raw))
        return np.array(ints, np.int64)
    raise ValueError(f"unknown Feature kind {number}")


def parse_example(payload: bytes | memoryview) -> dict[str, list[bytes] | np.ndarray]:
    """The features of a serialised `Example`: bytes lists as ``list[bytes]``, float lists as
    float32 [K], int64 lists as int64 [K]. Raises ValueError on malformed bytes."""
    out: dict[str, list[bytes] | np.ndarray] = {}
    for number, wire, features in _fields(memoryview(payload)):
        if number != 1 or wire != _LEN:
            continue
        for n, w, entry in _fields(features):
            if n != 1 or w != _LEN:
                continue
            parts = {k: v for k, _, v in _fields(entry)}
            out[bytes(parts.get(1, b"")).decode("utf-8")] = _decode_feature(parts.get(2, memoryview(b"")))
    return out
