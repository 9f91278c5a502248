"""Image width and height from the file header, without decoding any pixels.

Knowing the size of every image is what YOLO's normalised rows need and what lets `inspect`
report sizes; decoding 12,880 WIDER photos just for that would take minutes, while the header is
in the first few hundred bytes (a JPEG's SOF marker may sit after a large EXIF block, so JPEG
segments are skipped with seeks rather than read).

Supported: JPEG (baseline, progressive, lossless: any SOFn), PNG (IHDR), BMP (core and info
headers; a negative height means top-down rows), GIF (logical screen size), WebP (VP8, VP8L,
VP8X). The size is the stored one: a JPEG EXIF orientation tag is *not* applied, which matches
COCO's ``width``/``height`` and ``cv2.imread(..., cv2.IMREAD_IGNORE_ORIENTATION)``.
"""
from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import BinaryIO

# SOF markers carry the frame size; C4 (DHT), C8 (JPG extension) and CC (DAC) share the range.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers without a length field: TEM, RST0-7 (SOI/EOI are handled separately).
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_HEAD = 32


def image_size(path: str | Path | bytes) -> tuple[int, int] | None:
    """(width, height) of an image file, or of its first bytes (`path` as `bytes`: an object read
    from object storage), or None when it is missing, unreadable, cut short or unknown."""
    try:
        with (io.BytesIO(path) if isinstance(path, bytes) else open(path, "rb")) as f:
            head = f.read(_HEAD)
            size = _size_from_head(head) if not head.startswith(b"\xff\xd8") else _jpeg_size(f)
    except (OSError, struct.error):
        return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _size_from_head(head: bytes) -> tuple[int, int] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", head[6:10])
    if head.startswith(b"BM"):
        return _bmp_size(head)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp_size(head)
    return None


def _bmp_size(head: bytes) -> tuple[int, int] | None:
    (header_size,) = struct.unpack("<I", head[14:18])
    if header_size == 12:  # BITMAPCOREHEADER: unsigned 16-bit sizes
        return struct.unpack("<HH", head[18:22])
    if header_size >= 40:
        width, height = struct.unpack("<ii", head[18:26])
        return width, abs(height)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:
        (bits,) = struct.unpack("<I", head[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    return None


def _jpeg_size(f: BinaryIO) -> tuple[int, int] | None:
    """Walk the JPEG segments after SOI until a SOF marker; None if the scan starts first."""
    f.seek(2)
    while True:
        byte = f.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            return None  # garbage between segments: not a JPEG we can trust
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes before a marker are allowed
            marker = f.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _JPEG_STANDALONE:
            continue
        if code in (0xD9, 0xDA):  # EOI or start of scan before any frame header
            return None
        (length,) = struct.unpack(">H", f.read(2))
        if code in _JPEG_SOF:
            _precision, height, width = struct.unpack(">BHH", f.read(5))
            return width, height
        if length < 2:
            return None
        f.seek(length - 2, 1)
