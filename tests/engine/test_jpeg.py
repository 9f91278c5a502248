"""samplegen.engine.jpeg: libjpeg-turbo decoding gives OpenCV's pixels, or defers to OpenCV.

On every JPEG of the shared data (the dlib photos, COCO128, the MTCNN repositories' photos) the
fast path must give exactly ``cv2.imdecode(..., IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION)``; what
it cannot promise (CMYK, PNG, damaged data) it hands back to OpenCV.
"""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from samplegen.engine import jpeg

FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION


def opencv(data: np.ndarray) -> np.ndarray | None:
    return cv2.imdecode(data, FLAGS)


@pytest.fixture(scope="module")
def photos(shared_data) -> list:
    files = sorted(p for p in shared_data.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    assert len(files) > 100
    return files


def test_same_pixels_as_opencv_on_the_real_photos(photos):
    pytest.importorskip("simplejpeg")
    decoded = 0
    for path in photos:
        data = np.fromfile(str(path), np.uint8)
        fast = jpeg.decode(data)
        if fast is not None:
            decoded += 1
            want = opencv(data)
            assert fast.dtype == np.uint8 and fast.shape == want.shape and np.array_equal(fast, want), path
    assert decoded == len(photos)     # all of them are plain YCbCr / grayscale JPEGs


def test_grayscale_and_progressive_jpegs(photos, tmp_path):
    pytest.importorskip("simplejpeg")
    Image = pytest.importorskip("PIL.Image")
    image = Image.open(photos[0])
    for name, kwargs, mode in (("gray.jpg", {}, "L"), ("progressive.jpg", {"progressive": True}, "RGB"),
                               ("444.jpg", {"subsampling": 0}, "RGB")):
        buffer = io.BytesIO()
        image.convert(mode).save(buffer, "JPEG", quality=90, **kwargs)
        data = np.frombuffer(buffer.getvalue(), np.uint8)
        fast = jpeg.decode(data)
        assert fast is not None and np.array_equal(fast, opencv(data)), name


def test_cmyk_png_and_damaged_files_go_to_opencv(photos):
    Image = pytest.importorskip("PIL.Image")
    buffer = io.BytesIO()
    Image.open(photos[0]).convert("CMYK").save(buffer, "JPEG", quality=90)
    cmyk = np.frombuffer(buffer.getvalue(), np.uint8)
    assert jpeg.decode(cmyk) is None
    assert np.array_equal(jpeg.imdecode(cmyk, FLAGS), opencv(cmyk))       # OpenCV's own conversion
    png = np.frombuffer(cv2.imencode(".png", opencv(np.fromfile(str(photos[0]), np.uint8)))[1].tobytes(), np.uint8)
    assert jpeg.decode(png) is None and np.array_equal(jpeg.imdecode(png, FLAGS), opencv(png))
    assert jpeg.decode(np.frombuffer(b"\xff\xd8\xff\xe0 not a jpeg", np.uint8)) is None
    whole = np.fromfile(str(photos[0]), np.uint8)
    cut = whole[: whole.size // 2]
    fast = jpeg.decode(cut)
    assert fast is None or np.array_equal(fast, opencv(cut))


def test_an_image_bomb_header_is_left_to_opencv(photos):
    pytest.importorskip("simplejpeg")
    data = bytearray(np.fromfile(str(photos[0]), np.uint8).tobytes())
    sof = next(i for i in range(2, len(data) - 9) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    data[sof + 5:sof + 9] = (40000).to_bytes(2, "big") * 2     # 40000 x 40000 declared: over MAX_PIXELS
    assert jpeg.decode(np.frombuffer(bytes(data), np.uint8)) is None


def test_other_flags_and_a_missing_extra_are_opencv(photos, monkeypatch):
    data = np.fromfile(str(photos[0]), np.uint8)
    assert np.array_equal(jpeg.imdecode(data, cv2.IMREAD_GRAYSCALE), cv2.imdecode(data, cv2.IMREAD_GRAYSCALE))
    monkeypatch.setattr(jpeg, "simplejpeg", None)
    assert not jpeg.available() and jpeg.decode(data) is None
    assert np.array_equal(jpeg.imdecode(data, FLAGS), opencv(data))
