"""The reference pipelines' sampling rules as configuration keys (issue 15), hand-checked cases.

Each key reproduces one line of AITTSMD/MTCNN-Tensorflow or DFace (configs/mtcnn/aittsmd.yaml,
dface.yaml name the lines); the numbers below are worked out by hand from those lines.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from samplegen.mtcnn.balance import balance, batch_weights, copy_index
from samplegen.mtcnn.config import load_mtcnn_config, with_compat
from samplegen.mtcnn.crop_plan import make_plan
from samplegen.mtcnn.cut import crop_patches
from samplegen.mtcnn.draws import top_left
from samplegen.mtcnn.labels import LANDMARK, NEG, POS
from samplegen.mtcnn.landmarks import plan_landmarks
from samplegen.mtcnn.propose import ignored_as_faces, jittered_squares, near_negatives, plan_faces, random_negatives
from samplegen.config import load_preset
from samplegen.record import Record


def record(boxes, width=400, height=300, ignore=None, landmarks=None) -> Record:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Record("a.jpg", "a.jpg", width, height, boxes, np.zeros(len(boxes), np.int32),
                  np.asarray(ignore if ignore is not None else np.zeros((0, 4)), np.float32).reshape(-1, 4),
                  np.zeros(0 if ignore is None else len(ignore), np.int32),
                  None if landmarks is None else np.asarray(landmarks, np.float32))


def aittsmd(**overrides):
    return load_mtcnn_config(12, overrides or None, compat="aittsmd")[0]


def test_randint_side_and_jitter_ranges():
    # face 24 x 14 -> inclusive widths 25 x 15 (gen_12net_data.py:90-92)
    # side: randint(int(15 * 0.8), ceil(25 * 1.25)) = randint(12, 32) -> 12..31
    # dx: randint(-25 * 0.2, 25 * 0.2) = randint(-5, 5) -> -5..4; dy: randint(-3, 3) -> -3..2
    face = np.array([[100, 100, 124, 114]], np.float32)
    crops, _ = jittered_squares(face, 20000, aittsmd(), np.random.default_rng(0))
    side = crops[:, 2] - crops[:, 0]
    assert set(side.tolist()) == set(range(12, 32))
    # top-left = floor(cx + dx - side / 2 + 0.5) with cx = 112, cy = 107 (A:147 for integer dx)
    dx = crops[:, 0] - np.floor(112 - side / 2 + 0.5)
    dy = crops[:, 1] - np.floor(107 - side / 2 + 0.5)
    assert set(dx.tolist()) == set(range(-5, 5)) and set(dy.tolist()) == set(range(-3, 3))
    # samplegen's own: [ceil(0.8 * 14), floor(1.25 * 24)] = 12..30, continuous jitter
    own, _ = jittered_squares(face, 20000, load_mtcnn_config(12)[0], np.random.default_rng(0))
    assert set((own[:, 2] - own[:, 0]).tolist()) == set(range(12, 31))


def test_a_face_under_5_inclusive_pixels_wide_gets_no_crop():
    # w + 1 = 4: randint(-0.8, 0.8) = randint(0, 0) would raise; the script skips w < 5 (A:137)
    face = np.array([[100, 100, 103, 140]], np.float32)
    crops, owner = jittered_squares(face, 50, aittsmd(), np.random.default_rng(0))
    assert crops.shape == (0, 4) and owner.shape == (0,)


def test_effective_minimum_face_is_19():
    # max(w + 1, h + 1) < 20 skipped (A:96): a 19 px face seeds crops, an 18 px one does not
    cfg = aittsmd(neg_per_image=0, neg_near_attempts=0)
    assert len(plan_faces(record([[50, 50, 69, 69]]), cfg, np.random.default_rng(0))) > 0
    assert len(plan_faces(record([[50, 50, 68, 68]]), cfg, np.random.default_rng(0))) == 0
    own = load_mtcnn_config(12, {"neg_per_image": 0, "neg_near_attempts": 0})[0]
    assert len(plan_faces(record([[50, 50, 69, 69]]), own, np.random.default_rng(0))) == 0


def test_clamp_top_left_keeps_crops_of_faces_at_the_left_edge():
    # int(max(x1 + w/2 + dx - size/2, 0)) (A:147): crops are moved to x = 0, not dropped
    face = np.array([[0, 100, 30, 130]], np.float32)
    crops, _ = jittered_squares(face, 2000, aittsmd(), np.random.default_rng(0))
    assert (crops[:, 0] >= 0).all() and (crops[:, 0] == 0).mean() > 0.3
    dropped = aittsmd(border="drop")
    kept = plan_faces(record([[0, 100, 30, 130]]), dataclasses.replace(dropped, neg_per_image=0, neg_near_attempts=0),
                      np.random.default_rng(0))
    assert (kept.crop[:, 0] > 0).all()           # drop: the same attempts leaving at x < 0 are gone


def test_random_negatives_never_touch_the_right_or_bottom_edge():
    # randint(12, min(W, H) / 2) -> 12..29 for 100 x 60; randint(0, W - size) -> x2 <= W - 1 (A:60-63)
    cfg = aittsmd(neg_per_image=2000, neg_max_attempts=100000)
    plan = random_negatives(record([[0, 0, 1, 1]], 100, 60), cfg, np.random.default_rng(0))
    side = plan.crop[:, 2] - plan.crop[:, 0]
    assert side.min() == 12 and side.max() == 29
    assert plan.crop[:, 2].max() == 99 and plan.crop[:, 3].max() == 59


def test_near_negatives_leaving_the_image_are_dropped_not_moved():
    # corner from randint(max(-size, -x1), w) (A:104-105), dropped when nx1 + size > W (A:112)
    faces = record([[150, 10, 190, 50]], 200, 200)
    cfg = aittsmd(neg_near_attempts=4000)
    seeds = np.array([0])
    dropped = near_negatives(faces, seeds, cfg, np.random.default_rng(0))
    moved = near_negatives(faces, seeds, aittsmd(neg_near_attempts=4000, near_neg_border="clamp"),
                           np.random.default_rng(0))
    assert (dropped.crop[:, 2] <= 200).all() and len(dropped) < len(moved)
    assert dropped.crop[:, 0].max() <= 190 and dropped.crop[:, 0].min() >= 0


def test_py2_centre_floors_each_half():
    # DFace (Python 2): nx1 = x1 + w // 2 - size // 2 + dx; face x 10..31 -> w + 1 = 22
    x1, x2 = np.array([10.0]), np.array([31.0])
    py2 = load_mtcnn_config(12, compat="dface")[0]
    nearest = load_mtcnn_config(12)[0]
    assert top_left(x1, x2, np.array([22.0]), np.array([0.0]), np.array([21.0]), py2)[0] == 10 + 11 - 10
    # Python 3 / samplegen: floor(20.5 + 0 - 10.5 + 0.5) = 10
    assert top_left(x1, x2, np.array([22.0]), np.array([0.0]), np.array([21.0]), nearest)[0] == 10


def test_invalid_boxes_become_faces():
    rec = record([[10, 10, 60, 60]], ignore=[[200, 100, 260, 160]])
    faces = ignored_as_faces(rec)
    assert faces.boxes.tolist() == [[10, 10, 60, 60], [200, 100, 260, 160]] and faces.ignore.shape == (0, 4)
    plan = plan_faces(faces, aittsmd(), np.random.default_rng(0))
    assert (plan.gt[plan.cls == POS] == 1).any()     # the invalid box seeds positives now


def test_landmark_gt_sample_is_the_face_box_and_is_not_augmented():
    # gen_landmark_aug_12.py:56-68: img[y1:y2+1, x1:x2+1], points / (x2 - x1), / (y2 - y1)
    points = [[[60, 70], [90, 70], [75, 85], [62, 100], [88, 100]]]
    rec = record([[50, 55, 100, 115]], 300, 300, landmarks=points)
    plan = plan_landmarks(rec, aittsmd(landmark={"mirror_prob": 1.0, "rotate_prob": 1.0}), np.random.default_rng(0))
    gt = np.flatnonzero((plan.crop == np.array([50, 55, 100, 115], np.float32)).all(1))
    assert gt.shape[0] == 1 and not plan.angle[gt[0]] and not plan.mirror[gt[0]]
    np.testing.assert_allclose(plan.landmark[gt[0]][:2], [(60 - 50) / 50, (70 - 55) / 60], rtol=1e-6)
    shifted = np.flatnonzero(plan.angle == 0)
    assert len(plan) > 3 * len(shifted) // 2           # the shifted crops were mirrored and rotated


def test_rotation_about_the_crop_and_the_plus_one_cut():
    points = [[[60, 70], [90, 70], [75, 85], [62, 100], [88, 100]]]
    rec = record([[50, 55, 100, 115]], 300, 300, landmarks=points)
    plan = plan_landmarks(rec, aittsmd(landmark={"rotate_prob": 1.0}), np.random.default_rng(0))
    rotated = np.flatnonzero(plan.angle != 0)
    c = plan.crop[rotated]
    # the centre of the (side + 1)^2 pixels cut (Landmark_utils.rotate with the crop box, A:112)
    np.testing.assert_array_equal(plan.center[rotated], np.stack([(c[:, 0] + c[:, 2] + 1) / 2,
                                                                  (c[:, 1] + c[:, 3] + 1) / 2], 1))
    image = np.arange(30 * 40 * 3, dtype=np.uint8).reshape(30, 40, 3)
    rows = make_plan(LANDMARK, [[2, 3, 12, 13], [30, 20, 40, 30]])
    inside, edge = list(crop_patches(image, rows, pad=False, landmark_plus_one=True))
    np.testing.assert_array_equal(inside, image[3:14, 2:13])   # img[y1:y2+1, x1:x2+1]
    assert edge.shape == (10, 10, 3)                            # clipped at the edge, as numpy slicing
    neg = make_plan(NEG, [[2, 3, 12, 13]])
    assert next(crop_patches(image, neg, pad=False, landmark_plus_one=True)).shape == (10, 10, 3)


def test_dface_landmarks_have_no_gt_sample_no_augmentation_no_filter():
    points = [[[51, 70], [90, 70], [75, 85], [62, 100], [88, 114]]]   # points near the box edge
    rec = record([[50, 55, 100, 115]], 300, 300, landmarks=points)
    cfg = load_mtcnn_config(12, compat="dface")[0]
    plan = plan_landmarks(rec, cfg, np.random.default_rng(0))
    assert len(plan) and not plan.angle.any() and not plan.mirror.any()
    assert ((plan.crop[:, 2] - plan.crop[:, 0]) == (plan.crop[:, 3] - plan.crop[:, 1])).all()
    assert ((plan.landmark <= 0) | (plan.landmark >= 1)).any()     # kept although outside (0, 1)
    assert cfg.balance == "keep" and cfg.landmark.cut_plus_one


def test_compat_layer_sits_under_the_users_values():
    layered = load_preset("mtcnn/pnet.yaml").merge({"plus_one": False}, "file:mine.yaml")
    merged = with_compat(layered, "aittsmd")
    assert merged.values["plus_one"] is False and merged.sources["plus_one"] == "file:mine.yaml"
    assert merged.values["jitter_draw"] == "randint"
    assert merged.sources["jitter_draw"] == "preset:mtcnn/aittsmd.yaml"
    assert "output" not in merged.values          # file conventions are layout defaults, not sampling


def test_copy_index_and_batch_weights_by_hand():
    assert copy_index(np.array([0, 0, 0, 3, 5, 5])).tolist() == [0, 1, 2, 0, 0, 1]
    # ratio 1:3:1:2 over 10 / 60 / 20 / 40 samples: weights r/a / sum(r) = .1/7, .05/7, .05/7, .05/7
    np.testing.assert_allclose(batch_weights(np.array([10, 60, 20, 40]), (1, 3, 1, 2)),
                               np.array([0.1, 0.05, 0.05, 0.05]) / 7)


def test_balance_modes_by_hand():
    counts = np.array([[3, 10, 2, 4], [2, 5, 1, 0]])        # available 5 / 15 / 3 / 4
    over = balance(counts, (1, 3, 1, 2), 0, mode="oversample", per_unit=4)
    assert over.targets.tolist() == [4, 12, 4, 8] and over.duplicates.tolist() == [0, 0, 1, 4]
    assert np.unique(over.chosen[0]).shape[0] == 4            # 4 of 5 pos, without replacement
    keep = balance(counts, (1, 3, 1, 2), 0, mode="keep")
    assert keep.targets.tolist() == [5, 15, 3, 4] and [c.tolist() for c in keep.chosen][2] == [0, 1, 2]
    ref = balance(counts, (1, 3, 1, 2), 0, mode="aittsmd", per_unit=10)
    # pos / part base draws (with replacement), neg min(15, 30) = 15 draws, landmarks once
    assert ref.targets.tolist() == [10, 15, 10, 4] and ref.chosen[3].tolist() == [0, 1, 2, 3]
    assert ref.duplicates[1] > 0 and ref.duplicates[3] == 0
    with pytest.raises(ValueError):
        balance(counts, (1, 3, 1, 2), 0, mode="aittsmd")
