"""`load_image`: the pixels, or a counted reason (size mismatch, image bomb, symlink escape)."""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from samplegen import embedded
from samplegen.datasets.image_size import image_size
from samplegen.engine.images import (
    MAX_PIXELS, MISSING, OUTSIDE_ROOT, SIZE_MISMATCH, TOO_LARGE, UNDECODABLE, load_image)

PHOTO = embedded.ROOT / "grace_hopper.jpg"


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG header of width x height with one tiny IDAT (the bomb shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def photo_size():
    pixels = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    return pixels.shape[1], pixels.shape[0]


def test_the_annotated_size_loads(photo_size):
    pixels, reason = load_image(PHOTO, photo_size, header_size=image_size)
    assert reason is None and (pixels.shape[1], pixels.shape[0]) == photo_size
    assert load_image(PHOTO, (None, None))[1] is None  # an unknown size is not checked


@pytest.mark.parametrize("header", [image_size, None])
def test_a_size_differing_from_the_annotation_is_a_counted_skip(photo_size, header):
    width, height = photo_size
    for wrong in [(1000, 1000), (height, width), (width, height + 1)]:
        assert load_image(PHOTO, wrong, header_size=header) == (None, SIZE_MISMATCH)


@pytest.mark.parametrize("size", [(50000, 50000), (18000, 18000)])
def test_a_header_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, size):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(*size))
    assert size[0] * size[1] > MAX_PIXELS
    assert load_image(bomb, header_size=image_size) == (None, TOO_LARGE)


def test_opencv_refusing_a_bomb_without_header_check_is_too_large_not_a_crash(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(50000, 50000))  # above OpenCV's own 2**30 limit
    assert load_image(bomb) == (None, TOO_LARGE)


def test_the_decoded_size_is_capped_too(photo_size):
    cap = photo_size[0] * photo_size[1] - 1
    assert load_image(PHOTO, max_pixels=cap) == (None, TOO_LARGE)
    assert load_image(PHOTO, max_pixels=cap, header_size=image_size) == (None, TOO_LARGE)


def test_pool_workers_decode_with_the_pixel_cap_as_opencvs_limit(tmp_path):
    """Workers refuse a bomb inside OpenCV, before allocating, even without a header check.

    A fresh interpreter: the fork server is started once per process, and a test run may have
    started it already.
    """
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_declaring(16000, 16000))  # 256 Mpx: under OpenCV's default, over the cap
    code = ("import sys; from pathlib import Path; from samplegen.engine.distribute import WorkerPool; "
            "from samplegen.engine.images import load_image\n"
            "with WorkerPool(2) as pool:\n"
            "    print(sorted(r for _, r in pool.map(load_image, [Path(sys.argv[1])] * 2)))")
    out = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([TOO_LARGE, TOO_LARGE])


def test_missing_and_undecodable(tmp_path):
    assert load_image(tmp_path / "none.jpg") == (None, MISSING)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    assert load_image(tmp_path / "bad.jpg", header_size=image_size) == (None, UNDECODABLE)


@pytest.fixture()
def images_root(tmp_path):
    """root/ with a real photo, a link to it inside, and links leading outside (file, folder)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    shutil.copy(PHOTO, root / "sub" / "real.jpg")
    shutil.copy(PHOTO, outside / "secret.jpg")
    (root / "inside.jpg").symlink_to(root / "sub" / "real.jpg")
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")
    (root / "folder").symlink_to(outside, target_is_directory=True)
    return root


def test_symlinks_leaving_the_images_root_are_refused(images_root):
    for name in ("escape.jpg", "folder/secret.jpg"):
        assert load_image(images_root / name, root=images_root) == (None, OUTSIDE_ROOT)
        pixels, reason = load_image(images_root / name, root=images_root, follow_symlinks=True)
        assert reason is None and pixels.ndim == 3
    for name in ("sub/real.jpg", "inside.jpg"):
        assert load_image(images_root / name, root=images_root)[1] is None


def test_a_root_reached_through_a_symlink_is_resolved_too(images_root, tmp_path):
    alias = tmp_path / "alias"
    alias.symlink_to(images_root, target_is_directory=True)
    assert load_image(alias / "sub" / "real.jpg", root=alias)[1] is None
    assert load_image(alias / "escape.jpg", root=alias) == (None, OUTSIDE_ROOT)
    assert load_image(images_root / ".." / "outside" / "secret.jpg", root=images_root) == (None, OUTSIDE_ROOT)


def test_the_same_pixels_as_opencv(photo_size):
    expected = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    pixels, _ = load_image(PHOTO, photo_size, header_size=image_size, root=embedded.ROOT)
    assert np.array_equal(pixels, expected)
