"""Golden-vector cases and their storage, shared by the oracle scripts (dev-only).

`coco_cases` (COCO128 / the dlib photos in COCO form), `synthetic_cases` (seeded random and
adversarial images), `proposals_for` (seeded proposals for the R-CNN stage); `ragged` and `pack`
store many cases' arrays in a few npz members, whole or as SHA-256 plus summaries.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

DETAIL_MAX = 4000       # larger index / target arrays are stored as hashes and sums only
SEED = 20240601


def sha(arr: np.ndarray, dtype: str) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=dtype).tobytes()).hexdigest()


def coco_cases(data: Path, relative: str = "coco128/annotations/instances_train2017.json",
               prefix: str = "coco128/") -> list[dict]:
    ann = json.loads((data / relative).read_text())
    images = sorted(ann["images"], key=lambda im: im["file_name"])
    per_image: dict[int, list] = {}
    for a in sorted(ann["annotations"], key=lambda a: a["id"]):
        per_image.setdefault(a["image_id"], []).append(a)
    cases = []
    for im in images:
        anns = per_image.get(im["id"], [])
        xyxy = lambda a: [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
        gts = [a for a in anns if not a.get("iscrowd")]
        crowd = [a for a in anns if a.get("iscrowd")]
        cases.append(dict(name=prefix + im["file_name"], width=im["width"], height=im["height"],
                          gt=np.array([xyxy(a) for a in gts], np.float32).reshape(-1, 4),
                          labels=np.array([a["category_id"] for a in gts], np.int32),
                          ignore=np.array([xyxy(a) for a in crowd], np.float32).reshape(-1, 4)))
    return cases


def _random_boxes(rng, n, w, h, smin, smax):
    c = rng.uniform(0, 1, (n, 2)) * [w, h]
    wh = rng.uniform(smin, smax, (n, 2))
    return np.concatenate([c - wh / 2, c + wh / 2], 1).astype(np.float32)


def synthetic_cases() -> list[dict]:
    rng = np.random.default_rng(SEED)
    cases = []

    def add(name, w, h, gt, labels=None, ignore=None):
        gt = np.asarray(gt, np.float32).reshape(-1, 4)
        labels = np.arange(len(gt), dtype=np.int32) % 7 if labels is None else np.asarray(labels, np.int32)
        ig = np.zeros((0, 4), np.float32) if ignore is None else np.asarray(ignore, np.float32).reshape(-1, 4)
        cases.append(dict(name=name, width=w, height=h, gt=gt, labels=labels, ignore=ig))

    for i in range(4):
        w, h = int(rng.integers(200, 1400)), int(rng.integers(200, 1100))
        add(f"random/{i}", w, h, _random_boxes(rng, int(rng.integers(1, 30)), w, h, 4, 0.8 * min(w, h)),
            ignore=_random_boxes(rng, 2, w, h, 20, 200))
    add("random/many100", 1333, 800, _random_boxes(rng, 100, 1333, 800, 8, 500))
    add("adversarial/empty_gt", 640, 480, [], ignore=[[10, 10, 200, 200]])
    # 1333x800 is not rescaled (factor 1), so these boxes are in network pixels
    add("adversarial/far_gt_zero_area", 1333, 800, [[1400, 100, 1500, 200], [100, 100, 300, 260]])
    add("adversarial/exact_ties", 1333, 800, [[56, 56, 88, 88], [128, 128, 256, 256], [48, 64, 80, 96],
                                               [320, 320, 448, 448], [320, 320, 448, 448]], labels=[1, 2, 3, 4, 5])
    add("adversarial/border", 1333, 800, [[0, 0, 1333, 800], [0, 300, 40, 360], [1300, 770, 1333, 800],
                                           [600, 0, 700, 30], [-20, -20, 60, 60]])
    add("adversarial/tiny_and_huge", 640, 480, [[100, 100, 101, 101], [300.2, 200.2, 300.7, 200.9],
                                                 [5, 5, 635, 475], [0, 0, 640, 480], [200, 100, 203, 300]])
    add("adversarial/duplicates_crowd", 500, 375, [[50, 60, 200, 220], [50, 60, 200, 220], [210, 40, 480, 360]],
        labels=[3, 9, 1], ignore=[[40, 40, 260, 300], [0, 300, 500, 375]])
    add("adversarial/portrait_small", 120, 333, [[10, 10, 110, 320], [40, 150, 60, 170]])
    return cases


def proposals_for(case: dict, rng: np.random.Generator) -> np.ndarray:
    """Proposals for the R-CNN stage: jittered GTs plus random boxes, original pixels."""
    w, h = case["width"], case["height"]
    gt = case["gt"]
    jitter = gt + rng.normal(0, 8, gt.shape).astype(np.float32) if len(gt) else np.zeros((0, 4), np.float32)
    jitter = np.concatenate([np.minimum(jitter[:, :2], jitter[:, 2:] - 1), jitter[:, 2:]], 1)
    extra = _random_boxes(rng, 60, w, h, 8, 0.7 * min(w, h))
    return np.concatenate([jitter, extra]).astype(np.float32)



def ragged(rows: list[dict]) -> dict[str, np.ndarray]:
    """Per-key concatenation over cases plus ``KEY.offsets`` [C + 1] (a case lacking a key has an
    empty slice); scalars become length-1 slices. Keeps the file to a few dozen zip members."""
    out: dict[str, np.ndarray] = {}
    for key in sorted({k for row in rows for k in row}):
        present = [np.asarray(row[key]) for row in rows if key in row]
        template = present[0].reshape(-1, *present[0].shape[1:]) if present[0].ndim else present[0].reshape(1)
        parts = []
        for row in rows:
            if key in row:
                v = np.asarray(row[key])
                parts.append(v.reshape(1) if v.ndim == 0 else v)
            else:
                parts.append(template[:0])
        out[key] = np.concatenate(parts)
        out[key + ".offsets"] = np.cumsum([0] + [len(v) for v in parts]).astype(np.int64)
    return out


def pack(case: dict, props, ref: dict, detail: bool) -> dict[str, np.ndarray]:
    """Inputs and expected values of one case, whole or summarised."""
    p = ""
    d = {p + "width": np.array(case["width"]), p + "height": np.array(case["height"]),
         p + "in_gt": case["gt"], p + "in_labels": case["labels"], p + "in_ignore": case["ignore"]}
    if props is not None:
        d[p + "in_proposals"] = props
    for key in ("img_shape", "pad_shape", "scale_factor", "gt_boxes", "priors_per_level"):
        d[p + key] = ref[key]
    priors = ref["priors"]
    d[p + "priors_sha"] = np.array(sha(priors, "<f4"))
    d[p + "priors_rows"] = priors[np.linspace(0, len(priors) - 1, 16).astype(int)] if len(priors) else priors
    for key in ("assigned_gt", "labels"):
        d[p + key + "_sha"] = np.array(sha(ref[key], "<i4"))
    if "max_iou" in ref:
        d[p + "max_iou_sha"] = np.array(sha(ref["max_iou"], "<f4"))
    pos = np.flatnonzero(ref["assigned_gt"] > 0)
    d[p + "pos_inds_sha"] = np.array(sha(pos, "<i4"))
    d[p + "num_pos"] = np.array(len(pos))
    d[p + "num_ignore"] = np.array(int((ref["assigned_gt"] < 0).sum()))
    t = ref["pos_targets"].astype(np.float64)
    d[p + "targets_abs_sum"] = np.array(np.abs(t[np.isfinite(t)]).sum())   # a zero-area GT gives -inf
    d[p + "targets_nonfinite"] = np.array(int((~np.isfinite(t)).sum()))
    for key in ("num_sampled_pos", "num_sampled_neg", "neg_budget", "gt_level", "torch_sqrt_differs", "topk_boundary_tie"):
        if key in ref:
            d[p + key] = np.asarray(ref[key])
    nz = np.flatnonzero(ref["assigned_gt"] != 0)
    if detail and len(nz) <= DETAIL_MAX:    # zero-IoU quirks can make ~200k positives: hash only
        d[p + "nz_idx"] = nz.astype(np.int32)
        d[p + "nz_val"] = ref["assigned_gt"][nz].astype(np.int32)
    if detail and len(pos) <= DETAIL_MAX:
        d[p + "pos_targets"] = ref["pos_targets"].astype(np.float32)
        if "max_iou" in ref:
            d[p + "max_iou_pos"] = ref["max_iou"][pos]
        if "centerness" in ref:
            d[p + "centerness"] = ref["centerness"]
    elif "centerness" in ref:
        d[p + "centerness_sum"] = np.array(ref["centerness"].astype(np.float64).sum())
    return d
