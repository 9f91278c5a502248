"""samplegen.mtcnn.hard: hard examples from detections, on real WIDER/dlib boxes."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.boxes import iof, iou
from samplegen.mtcnn.hard import plan_hard, square_detections
from samplegen.mtcnn.labels import NEG, PART, POS
from samplegen.mtcnn.crop_plan import class_counts
from samplegen.record import Record
from samplegen.rng import rng_for


def fake_detections(record: Record, rng: np.random.Generator, n_random: int = 150) -> np.ndarray:
    """A previous stage's output: jittered copies of the faces plus random boxes, with scores."""
    parts = []
    if record.num_boxes:
        faces = record.boxes[rng.integers(0, record.num_boxes, 4 * record.num_boxes)].astype(np.float64)
        scale = (faces[:, 2:] - faces[:, :2]).repeat(2, axis=1) * 0.15
        parts.append(faces + rng.normal(0, 1, faces.shape) * scale)
    xy = rng.uniform(0, [record.width, record.height], (n_random, 2))
    parts.append(np.concatenate([xy, xy + rng.uniform(5, 150, (n_random, 2))], 1))
    boxes = np.concatenate(parts)
    return np.concatenate([boxes, rng.random((len(boxes), 1))], 1).astype(np.float32)


def check_hard(record: Record, detections: np.ndarray, plan, cfg) -> None:
    crop = plan.crop
    side = crop[:, 2] - crop[:, 0]
    assert np.array_equal(crop, np.round(crop)) and np.array_equal(side, crop[:, 3] - crop[:, 1])
    assert (side >= cfg.hard.min_size).all()
    if not cfg.pad:
        assert ((crop[:, :2] >= 0) & (crop[:, 2:] <= [record.width, record.height])).all()
    # Every crop is the square of some detection.
    squares = square_detections(detections)
    assert all((squares == row).all(axis=1).any() for row in crop)
    overlaps = iou(crop, record.boxes, cfg.plus_one) if record.num_boxes else np.zeros((len(crop), 1), np.float32)
    best = overlaps.max(axis=1)
    np.testing.assert_array_equal(plan.iou, best)
    neg, pos, part = plan.cls == NEG, plan.cls == POS, plan.cls == PART
    assert (neg | pos | part).all()
    assert (best[neg] < np.float32(cfg.neg_iou_thr)).all() and neg.sum() <= cfg.hard.neg_per_image
    assert (best[pos] >= np.float32(cfg.pos_iou_thr)).all()
    assert ((best[part] >= np.float32(cfg.part_iou_thr)) & (best[part] < np.float32(cfg.pos_iou_thr))).all()
    if record.ignore.shape[0] and neg.any():
        assert (iof(crop[neg], record.ignore) <= cfg.ignore_iof_thr).all()
    faces = pos | part
    np.testing.assert_array_equal(plan.gt[faces], overlaps[faces].argmax(axis=1))
    mapped = crop[faces].astype(np.float64) + plan.roi[faces] * side[faces, None]
    np.testing.assert_allclose(mapped, record.boxes[plan.gt[faces]], atol=1e-4, rtol=0)


@pytest.mark.parametrize("size", [24, 48])
def test_wider_hard_examples(wider_subset, make_config, size):
    cfg = make_config(size)
    totals = np.zeros(4, np.int64)
    for record in wider_subset[:120]:
        rng = np.random.default_rng(len(record.key))
        detections = fake_detections(record, rng)
        plan = plan_hard(record, detections, cfg, rng_for(0, record.key))
        check_hard(record, detections, plan, cfg)
        totals += class_counts(plan)
    assert totals[0] > 0 and totals[1] > 0 and totals[2] > 0 and totals[3] == 0


def test_dlib_hard_examples_with_pad(dlib_wider, make_config):
    cfg = make_config(24, pad=True)
    for record in dlib_wider:
        detections = fake_detections(record, np.random.default_rng(1))
        check_hard(record, detections, plan_hard(record, detections, cfg, rng_for(0, record.key)), cfg)


def test_negative_cap_keeps_the_highest_scores(make_config):
    cfg = make_config(24)
    record = Record(key="k", image="k", width=800, height=600,
                    boxes=np.array([[10, 10, 60, 60]], np.float32), labels=np.zeros(1, np.int32))
    rng = np.random.default_rng(0)
    xy = rng.uniform(100, 500, (200, 2))
    detections = np.concatenate([xy, xy + 40, rng.random((200, 1))], 1).astype(np.float32)
    plan = plan_hard(record, detections, cfg, rng_for(0, "k"))
    assert class_counts(plan)[1] == 60
    kept = {tuple(r) for r in plan.crop.tolist()}
    squares = square_detections(detections)
    scores_kept = [s for s, sq in zip(detections[:, 4], squares.tolist()) if tuple(sq) in kept]
    scores_dropped = [s for s, sq in zip(detections[:, 4], squares.tolist()) if tuple(sq) not in kept]
    assert min(scores_kept) >= max(scores_dropped)
    # Random choice instead: still 60, deterministic for the rng.
    random_cfg = make_config(24, hard={"neg_keep": "random"})
    a = plan_hard(record, detections, random_cfg, rng_for(0, "k"))
    b = plan_hard(record, detections, random_cfg, rng_for(0, "k"))
    assert class_counts(a)[1] == 60 and np.array_equal(a.crop, b.crop)


def test_square_detections_hand_example():
    # [10, 10, 30, 20]: side 20 about centre (20, 15) -> [10, 5, 30, 25].
    out = square_detections(np.array([[10, 10, 30, 20, 0.9]], np.float32))
    assert out.tolist() == [[10, 5, 30, 25]]
    # Half-pixel centre rounds half up: [0, 0, 21, 20] -> side 21, x1 = 0, y1 = floor(10 - 10.5 + 0.5) = 0.
    assert square_detections(np.array([[0, 0, 21, 20, 1]], np.float32)).tolist() == [[0, 0, 21, 21]]


def test_small_and_border_detections_are_dropped(make_config):
    cfg = make_config(24)
    record = Record(key="k", image="k", width=100, height=100,
                    boxes=np.array([[40, 40, 70, 70]], np.float32), labels=np.zeros(1, np.int32))
    detections = np.array([[40, 40, 55, 55, 1], [-5, 10, 25, 40, 1], [80, 80, 110, 110, 1],
                           [41, 41, 70, 70, 1]], np.float32)
    plan = plan_hard(record, detections, cfg, rng_for(0, "k"))
    assert plan.crop.tolist() == [[41, 41, 70, 70]] and plan.cls.tolist() == [POS]
    padded = plan_hard(record, detections, make_config(24, pad=True), rng_for(0, "k"))
    assert len(padded) == 3  # the 15 px detection is still too small


def test_empty_and_malformed_detections(make_config):
    cfg = make_config(24)
    record = Record(key="k", image="k", width=100, height=100)
    assert len(plan_hard(record, np.zeros((0, 5), np.float32), cfg, rng_for(0, "k"))) == 0
    with pytest.raises(ValueError, match=r"\[D, 5\]"):
        plan_hard(record, np.zeros((3, 4), np.float32), cfg, rng_for(0, "k"))
    # No faces: every kept detection is a negative.
    plan = plan_hard(record, np.array([[10, 10, 50, 50, 0.5]], np.float32), cfg, rng_for(0, "k"))
    assert plan.cls.tolist() == [NEG] and plan.gt.tolist() == [-1]
