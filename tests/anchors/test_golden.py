"""label_image against golden vectors produced by mmdetection 3.3.0 / torchvision 0.28.

The files in tests/golden/anchors/ come from scripts/make_anchor_goldens.py (run in the oracle
environment); this test needs neither torch nor the data. Each file holds one method variant
over COCO128's real boxes, random and adversarial images. Exact checks: geometry, priors (SHA-256
of the float32 bytes plus sampled rows), assigned_gt / labels / max_iou (SHA-256 of the bytes, and
the full arrays for the small "detail" cases), sampled counts, SSD's budget and FPN levels;
regression targets within 1e-5.

ATSS cases where a GT has equidistant priors at its top-k boundary are checked up to the priors
only: samplegen keeps the lowest index there, torch.topk an implementation-defined one (D.2).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from samplegen.anchors.labels import NEGATIVE, positive_mask
from samplegen.anchors.methods import METHODS, anchor_config, label_image, priors_for

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "anchors"
FILES = sorted(GOLDEN.glob("*.npz"))
TARGET_TOL = 1e-5


def sha(arr: np.ndarray, dtype: str) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=dtype).tobytes()).hexdigest()


class Golden:
    """Ragged per-key arrays: case i's value of KEY is KEY[offsets[i]:offsets[i + 1]]."""

    def __init__(self, path: Path):
        with np.load(path) as data:
            self.data = {k: data[k] for k in data.files}
        self.method = str(self.data["method"])
        self.overrides = json.loads(str(self.data["overrides"]))
        self.names = [str(n) for n in self.data["case_names"]]

    def has(self, key: str, i: int) -> bool:
        off = self.data.get(key + ".offsets")
        return off is not None and off[i + 1] > off[i]

    def get(self, key: str, i: int) -> np.ndarray:
        off = self.data[key + ".offsets"]
        return self.data[key][off[i]:off[i + 1]]

    def scalar(self, key: str, i: int):
        return self.get(key, i)[0]


def check_case(g: Golden, i: int, cfg) -> None:
    width, height = int(g.scalar("width", i)), int(g.scalar("height", i))
    proposals = g.get("in_proposals", i) if g.has("in_proposals", i) else None
    out = label_image(g.get("in_gt", i), g.get("in_labels", i), g.get("in_ignore", i), width, height, cfg,
                      np.random.default_rng(i), proposals)
    np.testing.assert_array_equal(out["img_shape"], g.get("img_shape", i))
    np.testing.assert_array_equal(out["pad_shape"], g.get("pad_shape", i))
    np.testing.assert_array_equal(out["scale_factor"], g.get("scale_factor", i))
    np.testing.assert_array_equal(out["gt_boxes"], g.get("gt_boxes", i))
    np.testing.assert_array_equal(out["priors_per_level"], g.get("priors_per_level", i))
    if cfg.__class__.__name__ != "GridAnchorConfig" or cfg.stage != "rcnn":
        priors, counts = priors_for(cfg, height, width)
        np.testing.assert_array_equal(counts, out["priors_per_level"])
        rows = np.linspace(0, len(priors) - 1, 16).astype(int) if len(priors) else []
        np.testing.assert_array_equal(priors[rows], g.get("priors_rows", i))
        assert sha(priors, "<f4") == g.scalar("priors_sha", i), "priors differ"
    assigned = out["assigned_gt"]
    if g.has("topk_boundary_tie", i) and g.scalar("topk_boundary_tie", i):
        return   # ATSS: equidistant priors at the top-k boundary; torch.topk's pick is not lowest-index
    if g.has("nz_idx", i):
        nz = np.flatnonzero(assigned != NEGATIVE)
        np.testing.assert_array_equal(nz, g.get("nz_idx", i))
        np.testing.assert_array_equal(assigned[nz], g.get("nz_val", i))
    assert sha(assigned, "<i4") == g.scalar("assigned_gt_sha", i), "assigned_gt differs"
    assert sha(out["labels"], "<i4") == g.scalar("labels_sha", i), "labels differ"
    assert sha(out["pos_inds"], "<i4") == g.scalar("pos_inds_sha", i)
    assert len(out["pos_inds"]) == g.scalar("num_pos", i)
    if g.has("max_iou_sha", i):
        if g.has("max_iou_pos", i):
            np.testing.assert_array_equal(out["max_iou"][out["pos_inds"]], g.get("max_iou_pos", i))
        assert sha(out["max_iou"], "<f4") == g.scalar("max_iou_sha", i), "max_iou differs"
    check_targets(g, i, out)
    if g.has("num_sampled_pos", i):
        sampled = out["sampled"]
        assert (sampled & positive_mask(assigned)).sum() == g.scalar("num_sampled_pos", i)
        assert (sampled & (assigned == NEGATIVE)).sum() == g.scalar("num_sampled_neg", i)
    if g.has("neg_budget", i):
        assert out["neg_budget"] == g.scalar("neg_budget", i)
    if g.has("gt_level", i) or "gt_level" in out:
        np.testing.assert_array_equal(out["gt_level"], g.get("gt_level", i))


def check_targets(g: Golden, i: int, out: dict) -> None:
    targets = out["pos_targets"].astype(np.float64)
    if g.has("pos_targets", i):
        np.testing.assert_allclose(targets, g.get("pos_targets", i), rtol=0, atol=TARGET_TOL)
    finite = np.isfinite(targets)   # a zero-area GT gives log(0) = -inf, as in mmdet
    assert (~finite).sum() == g.scalar("targets_nonfinite", i)
    expected_sum = g.scalar("targets_abs_sum", i)
    assert abs(np.abs(targets[finite]).sum() - expected_sum) <= TARGET_TOL * max(1, targets.size)
    if g.has("centerness", i):
        np.testing.assert_allclose(out["centerness"], g.get("centerness", i), rtol=0, atol=TARGET_TOL)
    if g.has("centerness_sum", i):
        assert abs(out["centerness"].astype(np.float64).sum() - g.scalar("centerness_sum", i)) <= \
            TARGET_TOL * max(1, len(out["centerness"]))


@pytest.mark.skipif(not FILES, reason="no golden files in tests/golden/anchors")
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_golden_variant(path: Path):
    g = Golden(path)
    cfg = anchor_config(g.method, g.overrides, environ={})
    failures = []
    for i, name in enumerate(g.names):
        try:
            check_case(g, i, cfg)
        except AssertionError as exc:
            failures.append(f"{name}: {str(exc).splitlines()[0] if str(exc) else 'assertion'}")
    assert not failures, f"{len(failures)}/{len(g.names)} cases differ:\n" + "\n".join(failures[:10])


def test_golden_set_covers_every_method():
    """Every method of the table has goldens: here, or in its own golden folder (YOLO, CenterNet)."""
    methods = {Golden(p).method for p in FILES}
    own = {p.parent.name for p in GOLDEN.parent.glob("*/*.npz") if p.parent.name not in ("anchors", "detect")}
    for name in METHODS:
        assert name in methods or name.split("_")[0] in own or name == "ssd", name
