"""``--compat aittsmd`` at sizes 24 and 48: the hard examples of AITTSMD's gen_hard_example.py and the
sets its R-Net / O-Net trainers read.

The reference below restates ``save_hard_example`` (prepare_data/gen_hard_example.py:58-121 at
3b3934d, with utils.convert_to_square and utils.IoU) for one image's detections, in its own
float64 arithmetic and loop order: which detections become negatives, positives and parts, the
pixels cut and the offsets written.
"""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.mtcnn.config import load_mtcnn_config
from samplegen.mtcnn.hard import plan_hard
from samplegen.mtcnn.labels import NEG, PART, POS
from samplegen.mtcnn.propose import ignored_as_faces
from samplegen.rng import rng_for
from tests.mtcnn.test_mtcnn_hard import fake_detections

NAMES = {NEG: "neg", POS: "pos", PART: "part"}


def reference_rows(dets: np.ndarray, gts: np.ndarray, width: int, height: int) -> list[tuple]:
    """(class, half-open crop, offsets or None) per sample gen_hard_example.py writes for one image."""
    dets = np.asarray(dets, np.float64)
    gts = np.asarray(gts, np.float32).reshape(-1, 4)
    square = dets.copy()                                   # utils.convert_to_square
    h, w = dets[:, 3] - dets[:, 1] + 1, dets[:, 2] - dets[:, 0] + 1
    side = np.maximum(h, w)
    square[:, 0] = dets[:, 0] + w * 0.5 - side * 0.5
    square[:, 1] = dets[:, 1] + h * 0.5 - side * 0.5
    square[:, 2] = square[:, 0] + side - 1
    square[:, 3] = square[:, 1] + side - 1
    square[:, 0:4] = np.round(square[:, 0:4])
    rows, negatives = [], 0
    for box in square:
        x_left, y_top, x_right, y_bottom, _ = box.astype(int)
        bw, bh = x_right - x_left + 1, y_bottom - y_top + 1
        if bw < 20 or x_left < 0 or y_top < 0 or x_right > width - 1 or y_bottom > height - 1:
            continue
        area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)       # utils.IoU: +1 widths
        areas = (gts[:, 2] - gts[:, 0] + 1) * (gts[:, 3] - gts[:, 1] + 1)
        iw = np.maximum(0, np.minimum(box[2], gts[:, 2]) - np.maximum(box[0], gts[:, 0]) + 1)
        ih = np.maximum(0, np.minimum(box[3], gts[:, 3]) - np.maximum(box[1], gts[:, 1]) + 1)
        overlap = iw * ih / (area + areas - iw * ih)
        crop = (x_left, y_top, x_right + 1, y_bottom + 1)     # img[y_top:y_bottom + 1, x_left:x_right + 1]
        if overlap.max() < 0.3 and negatives < 60:
            rows.append(("neg", crop, None))
            negatives += 1
            continue
        x1, y1, x2, y2 = gts[np.argmax(overlap)]
        offsets = ((x1 - x_left) / float(bw), (y1 - y_top) / float(bh), (x2 - x_right) / float(bw),
                   (y2 - y_bottom) / float(bh))
        if overlap.max() >= 0.65:
            rows.append(("pos", crop, offsets))
        elif overlap.max() >= 0.4:
            rows.append(("part", crop, offsets))
    return rows


def plan_rows(plan) -> list[tuple]:
    return [(NAMES[int(c)], tuple(int(v) for v in crop), None if c == NEG else tuple(roi))
            for c, crop, roi in zip(plan.cls, plan.crop, plan.roi)]


def same_rows(ours: list[tuple], reference: list[tuple]) -> None:
    key = lambda row: (row[0], row[1])   # noqa: E731
    ours, reference = sorted(ours, key=key), sorted(reference, key=key)
    assert [key(r) for r in ours] == [key(r) for r in reference]
    for a, b in zip(ours, reference):
        if b[2] is not None:
            np.testing.assert_allclose(a[2], b[2], atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [24, 48])
def test_hard_examples_are_gen_hard_example_s(wider_subset, size):
    cfg = load_mtcnn_config(size, compat="aittsmd")[0]
    rng = np.random.default_rng(size)
    totals = {"neg": 0, "pos": 0, "part": 0}
    capped = 0
    for record in wider_subset[:150]:
        record = ignored_as_faces(record)          # the compat reads invalid boxes as faces
        if not record.num_boxes:
            continue                               # the reference's np.max fails on an image without faces
        # Score order is not detection order: "first 60" and "highest 60" differ.
        dets = fake_detections(record, rng, n_random=300)
        reference = reference_rows(dets, record.boxes, record.width, record.height)
        same_rows(plan_rows(plan_hard(record, dets, cfg, rng_for(0, record.key))), reference)
        for name, *_ in reference:
            totals[name] += 1
        capped += sum(name == "neg" for name, *_ in reference) == 60
    assert min(totals.values()) > 50 and capped > 10


def test_non_square_rounding_and_the_inclusive_border():
    from samplegen.mtcnn.hard import inclusive_squares

    # [10.5, 0, 31.5, 21]: w = h = 22 (inclusive), x1' = 10.5 -> 10 and x2' = 31.5 -> 32 (half to
    # even): 23 pixels wide, 22 tall. [10, 0, 50.5, 20]: side 41.5, y1' = 10.5 - 20.75 -> -10.
    out = inclusive_squares(np.array([[10.5, 0, 31.5, 21, 1], [10, 0, 50.5, 20, 1]], np.float32))
    assert out.tolist() == [[10, 0, 32, 21], [10, -10, 50, 30]]
    far = np.array([[200, 200, 220, 220]], np.float32)
    assert reference_rows(np.array([[10.5, 0, 31.5, 21, 1]]), far, 33, 22) == [("neg", (10, 0, 33, 22), None)]
    assert reference_rows(np.array([[10.5, 0, 31.5, 21, 1]]), far, 32, 22) == []        # x2' = 32 > W - 1
    assert reference_rows(np.array([[10, 0, 50.5, 20, 1]]), far, 100, 100) == []        # y1' < 0
    cfg = load_mtcnn_config(24, compat="aittsmd")[0]
    from samplegen.record import Record

    record = Record(key="k", image="k", width=33, height=22, boxes=far, labels=np.zeros(1, np.int32))
    plan = plan_hard(record, np.array([[10.5, 0, 31.5, 21, 0.9]], np.float32), cfg, rng_for(0, "k"))
    assert plan.crop.tolist() == [[10, 0, 33, 22]] and plan.cls.tolist() == [NEG]


def test_the_r_and_o_net_sets_are_kept_whole_and_drawn_1_3_1_1():
    pnet, layered12 = load_mtcnn_config(12, compat="aittsmd")
    assert pnet.balance == "aittsmd" and pnet.base == 250000
    for size in (24, 48):
        cfg, layered = load_mtcnn_config(size, compat="aittsmd")
        assert cfg.balance == "keep" and cfg.base is None and cfg.ratio == (1, 3, 1, 1)
        assert cfg.hard.square == "inclusive" and cfg.hard.neg_keep == "first"
        assert layered.sources["balance"] == "preset:mtcnn/aittsmd_rnet_onet.yaml"
    own = load_mtcnn_config(24)[0]
    assert own.hard.square == "centred" and own.hard.neg_keep == "score" and own.balance == "exact"
    # a user's value still wins over both layers
    mine = load_mtcnn_config(24, {"balance": "exact"}, compat="aittsmd")[0]
    assert mine.balance == "exact"


def test_the_old_negative_key_names_the_new_one():
    from samplegen.errors import ConfigError

    with pytest.raises(ConfigError, match="'hard.neg_by_score' is now 'hard.neg_keep'"):
        load_mtcnn_config(24, {"hard": {"neg_by_score": False}})


def test_one_run_of_three_sizes_keeps_the_p_net_rules():
    # --size 12,24,48 shares one plan drawn as for 12: the R/O-Net layer is not applied there.
    import samplegen

    summary = samplegen.run_mtcnn("12,24,48", compat="aittsmd", dry_run=True)
    assert summary.fields["dry_run"] and summary.fields["sizes"] == [12, 24, 48]
