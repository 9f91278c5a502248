"""samplegen.mtcnn.landmarks: landmark samples on real 5-point annotations."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.mtcnn.labels import LANDMARK, mirror_landmarks, mirror_roi
from samplegen.mtcnn.landmarks import plan_landmarks, rotate_points, rotation_matrix
from samplegen.mtcnn.propose import paired_iou
from samplegen.record import Record
from samplegen.rng import rng_for


def check_landmark_plan(record: Record, plan, cfg) -> None:
    """Every invariant of a landmark plan, recomputed from the record."""
    assert (plan.cls == LANDMARK).all()
    crop = plan.crop.astype(np.float64)
    side = crop[:, 2] - crop[:, 0]
    assert np.array_equal(crop, np.round(crop)) and np.array_equal(side, crop[:, 3] - crop[:, 1])
    if not cfg.pad:
        assert ((crop[:, :2] >= 0) & (crop[:, 2:] <= [record.width, record.height])).all()
    # Landmarks strictly inside (0, 1).
    assert ((plan.landmark > 0) & (plan.landmark < 1)).all()
    # IoU of the crop box with its own face passes the strict threshold.
    own = paired_iou(plan.crop, record.boxes[plan.gt], cfg.plus_one)
    np.testing.assert_array_equal(plan.iou, own)
    assert (own > np.float32(cfg.landmark.iou_thr)).all()
    # Map the normalised points back to the source: un-mirror, de-normalise, un-rotate.
    points = plan.landmark.reshape(-1, 5, 2).astype(np.float64)
    points = np.where(plan.mirror[:, None, None], mirror_landmarks(points), points).astype(np.float64)
    pixels = crop[:, None, :2] + points * side[:, None, None]
    rotated = plan.angle != 0
    for angle in np.unique(plan.angle[rotated]):
        rows = plan.angle == angle
        pixels[rows] = rotate_points(pixels[rows], plan.center[rows].astype(np.float64), -float(angle))
    np.testing.assert_allclose(pixels, record.landmarks[plan.gt], atol=1e-3, rtol=0)
    # Rotation centre is the face centre (in float32), zero when not rotated.
    faces = record.boxes[plan.gt].astype(np.float64)
    centers = np.stack([(faces[:, 0] + faces[:, 2]) / 2, (faces[:, 1] + faces[:, 3]) / 2], 1)
    np.testing.assert_allclose(plan.center[rotated], centers[rotated], atol=1e-4)
    assert not plan.center[~rotated].any()
    # roi: defined (and mirrored with the crop) when unrotated, zeros when rotated.
    roi = np.where(plan.mirror[:, None], mirror_roi(plan.roi), plan.roi)
    mapped = crop + roi * side[:, None]
    np.testing.assert_allclose(mapped[~rotated], faces[~rotated], atol=1e-4, rtol=0)
    assert not plan.roi[rotated].any()


@pytest.mark.parametrize("min_face", [40, 20])
def test_dlib_landmarks_map_back_to_the_source(dlib_landmarks, make_config, min_face):
    cfg = make_config(12, landmark={"min_face": min_face})
    total = 0
    kinds = set()
    for record in dlib_landmarks:
        plan = plan_landmarks(record, cfg, rng_for(0, record.key))
        check_landmark_plan(record, plan, cfg)
        total += len(plan)
        kinds |= set(zip(plan.angle.tolist(), plan.mirror.tolist()))
    assert total > 100
    assert kinds == {(0.0, False), (0.0, True), (5.0, False), (5.0, True), (-5.0, False), (-5.0, True)}


def test_facepoint_list_yield_and_invariants(facepoint_subset, make_config):
    cfg = make_config(48)
    total = faces = 0
    for record in facepoint_subset:
        plan = plan_landmarks(record, cfg, rng_for(3, record.key))
        check_landmark_plan(record, plan, cfg)
        total += len(plan)
        faces += record.num_boxes
    # Expected (1 centre + 10 * ~45% kept shifts) * (1 + 0.5 mirror + 2 * 0.5 * 2 rotated)
    # ~ 19 per face on these centred LFW faces (B.5 measures ~12.5 over the whole list).
    assert 12 < total / faces < 25


def test_padding_keeps_crops_leaving_the_image(dlib_landmarks, make_config):
    cfg = make_config(24, pad=True, landmark={"min_face": 20})
    for record in dlib_landmarks:
        check_landmark_plan(record, plan_landmarks(record, cfg, rng_for(0, record.key)), cfg)


def test_probabilities_control_the_variants(dlib_landmarks, make_config):
    record = dlib_landmarks[2]
    none = make_config(12, landmark={"mirror_prob": 0.0, "rotate_prob": 0.0, "min_face": 20})
    plan = plan_landmarks(record, none, rng_for(0, record.key))
    assert len(plan) > 0 and not plan.mirror.any() and not plan.angle.any()
    every = make_config(12, landmark={"mirror_prob": 1.0, "rotate_prob": 1.0, "min_face": 20,
                                      "iou_thr": 0.0, "attempts": 0})
    plan = plan_landmarks(record, every, rng_for(0, record.key))
    # One centre sample per face, six variants each (before the (0, 1) filter, which the
    # centred dlib crops all pass).
    assert len(plan) == 6 * record.num_boxes


def test_same_rng_same_plan(dlib_landmarks, make_config):
    cfg = make_config(12)
    record = dlib_landmarks[3]
    a = plan_landmarks(record, cfg, rng_for(5, record.key))
    b = plan_landmarks(record, cfg, rng_for(5, record.key))
    for name in ("crop", "landmark", "angle", "mirror", "gt", "center"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_no_landmarks_or_small_faces_give_nothing(make_config):
    cfg = make_config(12)
    boxes = np.array([[10, 10, 40, 40]], np.float32)
    plain = Record(key="a", image="a", width=100, height=100, boxes=boxes, labels=np.zeros(1, np.int32))
    assert len(plan_landmarks(plain, cfg, rng_for(0, "a"))) == 0
    points = np.array([[[18, 20], [32, 20], [25, 26], [19, 33], [31, 33]]], np.float32)
    small = Record(key="b", image="b", width=100, height=100, boxes=boxes,
                   labels=np.zeros(1, np.int32), landmarks=points)
    assert len(plan_landmarks(small, cfg, rng_for(0, "b"))) == 0  # 30 px < landmark.min_face 40
    assert len(plan_landmarks(small, make_config(12, landmark={"min_face": 20}), rng_for(0, "b"))) > 0


def test_rotation_matrix_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    for angle in (5.0, -5.0, 30.0):
        np.testing.assert_allclose(rotation_matrix(np.array([12.5, 40.0]), angle),
                                   cv2.getRotationMatrix2D((12.5, 40.0), angle, 1.0), atol=1e-12)
    points = np.array([[[10.0, 3.0], [-2.0, 7.5]]])
    matrix = rotation_matrix(np.array([1.0, 2.0]), 5.0)
    expected = points[0] @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(rotate_points(points, np.array([[1.0, 2.0]]), 5.0)[0], expected, atol=1e-12)
