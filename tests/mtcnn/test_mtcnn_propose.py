"""samplegen.mtcnn.propose: pos/part/neg planning, checked on real boxes and edge cases."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samplegen.boxes import best_iou, iof, iou, paired_iou
from samplegen.mtcnn.labels import NEG, PART, POS
from samplegen.mtcnn.crop_plan import class_counts
from samplegen.mtcnn.propose import plan_faces, seed_faces
from samplegen.record import Record
from samplegen.rng import rng_for


def _record(boxes, width=640, height=480, ignore=None, key="img") -> Record:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    ignore = np.zeros((0, 4), np.float32) if ignore is None else np.asarray(ignore, np.float32).reshape(-1, 4)
    return Record(key=key, image=key, width=width, height=height, boxes=boxes,
                  labels=np.zeros(len(boxes), np.int32), ignore=ignore,
                  ignore_labels=np.zeros(len(ignore), np.int32))


def check_plan(record: Record, plan, cfg) -> None:
    """Every invariant of a pos/part/neg plan, recomputed from scratch."""
    crop = plan.crop
    side = crop[:, 2] - crop[:, 0]
    # Integer half-open squares of at least one pixel.
    assert np.array_equal(crop, np.round(crop)) and np.array_equal(side, crop[:, 3] - crop[:, 1])
    assert (side >= 1).all()
    if not cfg.pad:
        assert ((crop[:, :2] >= 0) & (crop[:, 2:] <= [record.width, record.height])).all()
    assert not plan.angle.any() and not plan.mirror.any() and not plan.landmark.any()
    neg, pos, part = plan.cls == NEG, plan.cls == POS, plan.cls == PART
    assert (neg | pos | part).all()
    # The class matches the recomputed IoU bands (max over all faces).
    if record.num_boxes:
        overlaps = iou(crop, record.boxes, cfg.plus_one)
        best = overlaps.max(axis=1) if len(crop) else np.zeros(0, np.float32)
    else:
        best = np.zeros(len(crop), np.float32)
    np.testing.assert_array_equal(plan.iou, best)
    assert (best[pos] >= np.float32(cfg.pos_iou_thr)).all()
    assert ((best[part] >= np.float32(cfg.part_iou_thr)) & (best[part] < np.float32(cfg.pos_iou_thr))).all()
    assert (best[neg] < np.float32(cfg.neg_iou_thr)).all()
    # Negatives never overlap an ignore region; they have no face and no target.
    if record.ignore.shape[0] and neg.any():
        assert (iof(crop[neg], record.ignore) <= cfg.ignore_iof_thr).all()
    assert (plan.gt[neg] == -1).all() and not plan.roi[neg].any()
    # Positives/parts: gt is the best face and roi maps the crop back onto it within 1e-4 px.
    faces = pos | part
    if faces.any():
        np.testing.assert_array_equal(plan.gt[faces], overlaps[faces].argmax(axis=1))
        mapped = crop[faces].astype(np.float64) + plan.roi[faces] * side[faces, None]
        np.testing.assert_allclose(mapped, record.boxes[plan.gt[faces]], atol=1e-4, rtol=0)


def test_dlib_faces_plan_is_consistent(dlib_wider, make_config):
    cfg = make_config(12)
    totals = np.zeros(4, np.int64)
    for record in dlib_wider:
        plan = plan_faces(record, cfg, rng_for(0, record.key))
        check_plan(record, plan, cfg)
        totals += class_counts(plan)
    assert totals[0] > 100 and totals[1] >= 50 * len(dlib_wider) and totals[2] > 100 and totals[3] == 0


@pytest.mark.parametrize("size", [12, 24, 48])
def test_wider_subset_plan_is_consistent(wider_subset, make_config, size):
    cfg = make_config(size)
    totals = np.zeros(4, np.int64)
    assert sum(r.ignore.shape[0] for r in wider_subset) > 0  # the subset exercises ignore regions
    for record in wider_subset[:100 if size != 12 else 300]:
        plan = plan_faces(record, cfg, rng_for(1, record.key))
        check_plan(record, plan, cfg)
        totals += class_counts(plan)
    # B.3 yield: about 29% of kept pos/part attempts are positives (reference +1 IoU, 69% parts).
    assert 0.15 < totals[0] / (totals[0] + totals[2]) < 0.45


def test_wider_subset_with_plus_one_and_pad(wider_subset, make_config):
    cfg = make_config(12, plus_one=True, pad=True)
    for record in wider_subset[:60]:
        check_plan(record, plan_faces(record, cfg, rng_for(2, record.key)), cfg)


def test_same_rng_same_plan_other_seed_other_plan(wider_subset, make_config):
    cfg = make_config(12)
    record = wider_subset[2]
    a = plan_faces(record, cfg, rng_for(7, record.key))
    b = plan_faces(record, cfg, rng_for(7, record.key))
    c = plan_faces(record, cfg, rng_for(8, record.key))
    for name in ("cls", "crop", "roi", "iou", "gt"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not (len(a) == len(c) and np.array_equal(a.crop, c.crop))


def test_no_faces_gives_exactly_the_random_negatives(make_config):
    cfg = make_config(12)
    plan = plan_faces(_record([]), cfg, rng_for(0, "empty"))
    assert class_counts(plan).tolist() == [0, cfg.neg_per_image, 0, 0]
    sides = plan.crop[:, 2] - plan.crop[:, 0]
    assert sides.min() >= cfg.neg_min_size and sides.max() <= 240


def test_image_smaller_than_the_negative_range(make_config):
    # floor(min(W, H) / 2) = 11 < 12: no random nor near-face negatives; the 21 px face still
    # seeds positives/parts.
    cfg = make_config(12)
    record = _record([[1, 1, 22, 22]], width=23, height=23)
    plan = plan_faces(record, cfg, rng_for(0, "small"))
    assert class_counts(plan)[1] == 0
    assert class_counts(plan)[0] + class_counts(plan)[2] > 0
    check_plan(record, plan, cfg)


def test_tiny_faces_seed_nothing_but_block_negatives(make_config):
    cfg = make_config(12)
    tiny = [[x, y, x + 15, y + 15] for x in range(0, 640, 40) for y in range(0, 480, 40)]
    record = _record(tiny)
    assert seed_faces(record.boxes, cfg.min_face).shape[0] == 0
    plan = plan_faces(record, cfg, rng_for(0, "tiny"))
    assert (plan.cls == NEG).all()
    check_plan(record, plan, cfg)


def test_ignore_everywhere_caps_the_negative_loop(make_config):
    cfg = make_config(12)
    record = _record([[100, 100, 160, 160]], ignore=[[0, 0, 640, 480]])
    plan = plan_faces(record, cfg, rng_for(0, "ignored"))
    assert class_counts(plan)[1] == 0 and class_counts(plan)[0] > 0
    check_plan(record, plan, cfg)


def test_face_at_the_border_pad_off_and_on(make_config):
    record = _record([[0, 0, 40, 40], [600, 440, 640, 480]])
    off = plan_faces(record, make_config(12), rng_for(0, "border"))
    check_plan(record, off, make_config(12))
    cfg_pad = make_config(12, pad=True)
    on = plan_faces(record, cfg_pad, rng_for(0, "border"))
    check_plan(record, on, cfg_pad)
    leaving = (on.crop[:, :2] < 0).any(axis=1) | (on.crop[:, 2] > 640) | (on.crop[:, 3] > 480)
    assert leaving.any() and len(on) > len(off)


def test_match_sampled_face_uses_the_seed_only(make_config):
    cfg = make_config(12, match_sampled_face=True)
    record = _record([[100, 100, 200, 200], [130, 100, 230, 200]])
    plan = plan_faces(record, cfg, rng_for(0, "pair"))
    faces = plan.cls != NEG
    own = paired_iou(plan.crop[faces], record.boxes[plan.gt[faces]])
    np.testing.assert_array_equal(plan.iou[faces], own)
    assert (own >= np.float32(cfg.part_iou_thr)).all()


def test_max_iou_blocks_match_dense(make_config):
    rng = np.random.default_rng(0)
    crops = rng.uniform(0, 500, (5000, 2)).astype(np.float32)
    crops = np.concatenate([crops, crops + 30], 1)
    faces = rng.uniform(0, 500, (700, 2)).astype(np.float32)
    faces = np.concatenate([faces, faces + 25], 1)
    best, idx = best_iou(crops, faces)
    dense = iou(crops, faces)
    np.testing.assert_array_equal(best, dense.max(1))
    np.testing.assert_array_equal(idx, dense.argmax(1))
    assert best_iou(crops, np.zeros((0, 4), np.float32))[1].tolist() == [-1] * 5000


def test_unknown_image_size_is_a_programming_error(make_config):
    record = Record(key="x", image="x", width=None, height=None)
    with pytest.raises(ValueError, match="image size unknown"):
        plan_faces(record, make_config(12), rng_for(0, "x"))


@st.composite
def _records(draw):
    width = draw(st.integers(16, 400))
    height = draw(st.integers(16, 400))
    n = draw(st.integers(0, 6))
    boxes = []
    for _ in range(n):
        x1 = draw(st.floats(-10, width - 2))
        y1 = draw(st.floats(-10, height - 2))
        boxes.append([x1, y1, x1 + draw(st.floats(1, 200)), y1 + draw(st.floats(1, 200))])
    ignore = []
    if draw(st.booleans()):
        x1, y1 = draw(st.floats(0, width - 1)), draw(st.floats(0, height - 1))
        ignore.append([x1, y1, x1 + draw(st.floats(1, 100)), y1 + draw(st.floats(1, 100))])
    return _record(boxes, width, height, ignore or None)


@settings(max_examples=60, deadline=None)
@given(record=_records(), seed=st.integers(0, 2**32 - 1), pad=st.booleans())
def test_invariants_on_random_records(record, seed, pad, make_config):
    cfg = make_config(12, pad=pad)
    check_plan(record, plan_faces(record, cfg, rng_for(seed, record.key)), cfg)
