"""Image sizes from headers, checked against what OpenCV decodes."""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from samplegen.datasets.image_size import image_size

W, H = 37, 21  # odd sizes catch swapped or off-by-one fields


def _pixels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext, params", [
    (".png", []),
    (".jpg", []),
    (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    (".bmp", []),
    (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),    # lossy: VP8
    (".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]),   # lossless: VP8L
])
def test_formats_written_by_opencv(tmp_path: Path, ext: str, params: list) -> None:
    path = tmp_path / f"x{ext}"
    assert cv2.imwrite(str(path), _pixels(), params)
    assert image_size(path) == (W, H)


def test_jpeg_with_large_segment_before_the_frame_header(tmp_path: Path) -> None:
    ok, data = cv2.imencode(".jpg", _pixels())
    data = data.tobytes()
    app1 = b"\xff\xe1" + struct.pack(">H", 60002) + b"Exif\x00\x00" + bytes(59994)
    path = tmp_path / "exif.jpg"
    path.write_bytes(data[:2] + app1 + b"\xff" + data[2:])  # plus one fill byte before the next marker
    assert image_size(path) == (W, H)
    assert cv2.imread(str(path)).shape[:2] == (H, W)


def test_gif_header(tmp_path: Path) -> None:
    path = tmp_path / "x.gif"
    path.write_bytes(b"GIF89a" + struct.pack("<HH", W, H) + b"\x00\x00\x00" + b";")
    assert image_size(path) == (W, H)


def test_top_down_bmp_has_negative_height(tmp_path: Path) -> None:
    header = b"BM" + bytes(12) + struct.pack("<Iii", 40, W, -H) + bytes(32)
    path = tmp_path / "x.bmp"
    path.write_bytes(header)
    assert image_size(path) == (W, H)


def test_webp_extended_header(tmp_path: Path) -> None:
    path = tmp_path / "x.webp"
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (W - 1).to_bytes(3, "little") + (H - 1).to_bytes(3, "little")
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)
    assert image_size(path) == (W, H)


def test_missing_truncated_and_unknown_files_give_none(tmp_path: Path) -> None:
    assert image_size(tmp_path / "missing.jpg") is None
    ok, data = cv2.imencode(".jpg", _pixels())
    (tmp_path / "cut.jpg").write_bytes(data.tobytes()[:100])
    assert image_size(tmp_path / "cut.jpg") is None
    (tmp_path / "text.jpg").write_text("not an image at all, just some text")
    assert image_size(tmp_path / "text.jpg") is None
    (tmp_path / "empty.png").write_bytes(b"")
    assert image_size(tmp_path / "empty.png") is None
    assert image_size(tmp_path) is None  # a folder


def test_real_photos_match_opencv(shared_data: Path) -> None:
    files = sorted((shared_data / "dlib_faces").glob("*.jpg")) + sorted((shared_data / "photos").iterdir())
    files += sorted((shared_data / "coco128" / "images" / "train2017").glob("*.jpg"))[:20]
    assert len(files) > 30
    for f in files:
        decoded = cv2.imread(str(f), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        assert image_size(f) == (decoded.shape[1], decoded.shape[0]), f
