"""samplegen.mtcnn.cut: pixels equal a straightforward recomputation, on the real dlib photos."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from samplegen.mtcnn.cut import crop_square, cut_crops, rotate_frame
from samplegen.mtcnn.labels import LANDMARK, MIRROR_POINT_ORDER
from samplegen.mtcnn.landmarks import plan_landmarks
from samplegen.mtcnn.crop_plan import empty_plan, make_plan, select
from samplegen.mtcnn.propose import plan_faces
from samplegen.record import Record
from samplegen.rng import rng_for

BORDER = 400  # wider than any crop leaves the image in these tests


def reference_crop(image: np.ndarray, box: np.ndarray, size: int, angle: float, center: np.ndarray,
                   mirror: bool) -> np.ndarray:
    """The obvious recomputation: rotate the whole image, zero-extend it, slice, resize, flip."""
    if angle != 0:
        matrix = cv2.getRotationMatrix2D((float(center[0]) - 0.5, float(center[1]) - 0.5), float(angle), 1.0)
        image = cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    big = cv2.copyMakeBorder(image, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_CONSTANT, value=0)
    x1, y1, x2, y2 = (int(v) + BORDER for v in box)
    out = cv2.resize(big[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_LINEAR)
    return cv2.flip(out, 1) if mirror else out


def _check(image, plan, size, pad):
    out = cut_crops(image, plan, size, pad)
    assert out.dtype == np.uint8 and out.shape == (len(plan), size, size, 3)
    for k in range(len(plan)):
        expected = reference_crop(image, plan.crop[k], size, plan.angle[k], plan.center[k], plan.mirror[k])
        np.testing.assert_array_equal(out[k], expected)


@pytest.mark.parametrize("size", [12, 24, 48])
def test_unrotated_crops_equal_crop_then_resize(dlib_wider, dlib_root, make_config, size):
    cfg = make_config(size)
    for record in dlib_wider[:6]:
        image = cv2.imread(str(dlib_root / record.image))
        plan = plan_faces(record, cfg, rng_for(0, record.key))
        _check(image, select(plan, np.arange(0, len(plan), 3)), size, pad=False)


def test_padded_crops_are_zero_outside(dlib_wider, dlib_root, make_config):
    cfg = make_config(24, pad=True)
    leaving = 0
    for record in dlib_wider:
        image = cv2.imread(str(dlib_root / record.image))
        plan = plan_faces(record, cfg, rng_for(0, record.key))
        out_mask = ((plan.crop[:, :2] < 0).any(1) | (plan.crop[:, 2] > record.width)
                    | (plan.crop[:, 3] > record.height))
        leaving += int(out_mask.sum())
        _check(image, select(plan, out_mask | (np.arange(len(plan)) % 7 == 0)), 24, pad=True)
    assert leaving > 0


@pytest.mark.parametrize("size", [12, 48])
def test_rotated_and_mirrored_landmark_crops(dlib_landmarks, dlib_root, make_config, size):
    cfg = make_config(size, landmark={"min_face": 20})
    rotated = 0
    for record in dlib_landmarks:
        image = cv2.imread(str(dlib_root / record.image))
        plan = plan_landmarks(record, cfg, rng_for(0, record.key))
        rotated += int((plan.angle != 0).sum())
        _check(image, plan, size, pad=False)
    assert rotated > 20


def test_landmarks_land_on_their_pixels_after_rotation_and_mirror(make_config):
    # Coloured blobs at the five points: in every cut crop, the pixel at the normalised landmark
    # j has the colour of source point MIRROR_POINT_ORDER[j] when mirrored, of point j otherwise.
    points = np.array([[130, 130], [170, 128], [150, 152], [134, 176], [166, 174]], np.float32)
    colours = np.array([[0, 0, 255], [0, 255, 0], [255, 0, 0], [0, 255, 255], [255, 0, 255]], np.uint8)
    image = np.full((300, 300, 3), 40, np.uint8)
    for (x, y), colour in zip(points, colours):
        image[int(y) - 4:int(y) + 5, int(x) - 4:int(x) + 5] = colour
    record = Record(key="blobs", image="blobs", width=300, height=300,
                    boxes=np.array([[100, 100, 200, 200]], np.float32), labels=np.zeros(1, np.int32),
                    landmarks=(points + 0.5)[None])  # blob centres in continuous coordinates
    cfg = make_config(48, landmark={"mirror_prob": 1.0, "rotate_prob": 1.0, "angles": [15, -15]})
    plan = plan_landmarks(record, cfg, rng_for(0, "blobs"))
    assert (plan.angle != 0).any() and plan.mirror.any() and (plan.cls == LANDMARK).all()
    crops = cut_crops(image, plan, 48, pad=False)
    for k in range(len(plan)):
        for j, (u, v) in enumerate(plan.landmark[k].reshape(5, 2)):
            source = MIRROR_POINT_ORDER[j] if plan.mirror[k] else j
            pixel = crops[k, int(v * 48), int(u * 48)].astype(int)
            assert np.abs(pixel - colours[source]).max() < 90, (k, j, pixel, colours[source])


def test_rotate_frame_top_rows_equal_full_frame(dlib_root):
    # cut_crops warps only the rows it needs, at full width; those rows must be bit-identical.
    rng = np.random.default_rng(0)
    for name in ("2008_001009.jpg", "bald_guys.jpg"):
        image = cv2.imread(str(dlib_root / name))
        h, w = image.shape[:2]
        for _ in range(40):
            center, angle = rng.uniform(0, min(w, h), 2).astype(np.float32), float(rng.choice([5, -5, 13]))
            rows = int(rng.integers(1, h + 1))
            full = rotate_frame(image, center, angle)
            np.testing.assert_array_equal(rotate_frame(image, center, angle, (w, rows)), full[:rows])


def test_crop_square_view_and_padding():
    image = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    np.testing.assert_array_equal(crop_square(image, 1, 2, 3, False), image[2:5, 1:4])
    padded = crop_square(image, -1, 3, 3, True)
    assert padded.shape == (3, 3, 3)
    assert not padded[:, 0].any() and not padded[2:].any()
    np.testing.assert_array_equal(padded[:2, 1:], image[3:5, 0:2])
    assert not crop_square(image, 10, 10, 2, True).any()
    with pytest.raises(ValueError, match="pad is off"):
        crop_square(image, -1, 0, 3, False)


def test_cut_edge_cases():
    image = np.zeros((20, 20, 3), np.uint8)
    assert cut_crops(image, empty_plan(), 12, False).shape == (0, 12, 12, 3)
    with pytest.raises(ValueError, match="uint8"):
        cut_crops(np.zeros((20, 20), np.uint8), empty_plan(), 12, False)
    outside = make_plan(0, np.array([[15, 15, 27, 27]]))
    with pytest.raises(ValueError, match="pad is off"):
        cut_crops(image, outside, 12, False)
    rotated = make_plan(LANDMARK, np.array([[-2, 0, 10, 12]]), angle=5.0, center=np.array([[5, 5]]))
    with pytest.raises(ValueError, match="pad is off"):
        cut_crops(image, rotated, 12, False)
    assert cut_crops(image, rotated, 12, True).shape == (1, 12, 12, 3)


@pytest.mark.parametrize("pad", [False, True])
def test_wider_boxes_on_a_synthesised_image(wider_subset, make_config, pad):
    # Real WIDER boxes, a synthesised 1024x768 image (WIDER pixels are not available).
    image = np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    cfg = make_config(12, pad=pad)
    for record in wider_subset[:5]:
        plan = plan_faces(record, cfg, rng_for(0, record.key))
        _check(image, select(plan, np.arange(0, len(plan), 5)), 12, pad=pad)
