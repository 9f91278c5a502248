#!/usr/bin/env python
"""Regenerate the anchor golden vectors in tests/golden/anchors/ from the reference libraries.

Run with the oracle environment (mmdetection 3.3.0 + torchvision 0.28 on CPU torch, built by
``../shared/oracle/setup.sh``), from the repository root:

    ORACLE_VENV/bin/python scripts/make_anchor_goldens.py \
        --data ../shared/data --oracle ../shared/oracle --out tests/golden/anchors

``--data`` defaults to $SAMPLEGEN_SHARED_DATA and ``--oracle`` to $SAMPLEGEN_ORACLE. The output is
deterministic (fixed seeds, sorted inputs) so regenerating gives the same files.

Nothing here calls samplegen's anchor code: every expected value comes from mmdetection (or
torchvision for ``compat: torchvision``):

* geometry: mmdet ``Resize`` (keep ratio 1333x800, or SSD's warp) on a blank image carrying the
  boxes, mmengine ``stack_batch(pad_size_divisor=32)``; feature-map sizes from a real torchvision
  ResNet-50 FPN forward pass on the padded shape (SSD: the configs' fixed maps);
* priors: ``AnchorGenerator`` / ``SSDAnchorGenerator`` / ``MlvlPointGenerator`` (torchvision
  ``AnchorGenerator`` / ``DefaultBoxGenerator``);
* assignment: ``MaxIoUAssigner`` (+ ``anchor_inside_flags``), ``ATSSAssigner``, ``FCOSHead.get_targets``
  (torchvision ``Matcher`` / ``SSDMatcher`` / ``FCOS.compute_loss`` matching);
* sampling counts: ``RandomSampler`` (torchvision ``BalancedPositiveNegativeSampler``);
* targets: ``DeltaXYWHBBoxCoder`` / ``FCOSHead.centerness_target`` (torchvision ``BoxCoder``);
* SSD's 3:1 budget: ``SSDHead.loss_by_feat_single``'s rule ``min(3 P, #background)`` [R].

Cases: every COCO128 image (its non-crowd boxes; crowd boxes as ignore regions), dlib's 9 face
photos (``dlib_faces/derived/instances_*.json``), seeded random images, and adversarial ones (empty GT, a GT clipped to zero area far from every prior, exact
IoU ties, boxes on the border, tiny and huge boxes, duplicates, 100 boxes, ignore regions).
Arrays are stored whole for small cases ("detail") and as SHA-256 of their bytes plus compact
summaries for the rest, to keep the files small.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anchor_oracle import Oracle  # noqa: E402
from golden_cases import SEED, coco_cases, pack, proposals_for, ragged, synthetic_cases  # noqa: E402

DETAIL_COCO = 3          # COCO128 images stored in full (the others as hashes)
TV_COCO = 24             # COCO128 images used for the torchvision variants

VARIANTS = {             # golden file -> (method, overrides)
    "faster_rcnn": ("faster_rcnn", {}),
    "fpn": ("fpn", {}),
    "fpn_rcnn": ("fpn", {"stage": "rcnn"}),
    "fpn_ignore": ("fpn", {"assigner": {"ignore_iof_thr": 0.5}}),
    "fpn_border0": ("fpn", {"allowed_border": 0}),
    "retinanet": ("retinanet", {}),
    "retinanet_keep_outside": ("retinanet", {"input": {"drop_outside_gt": False}}),   # the mmdet #8289 flood
    "ssd300": ("ssd300", {}),
    "ssd300_coco": ("ssd300", {"prior_generator": {"sizes": "coco"}}),
    "ssd512": ("ssd512", {}),
    "fcos": ("fcos", {}),
    "fcos_nocs": ("fcos", {"assigner": {"center_sampling": False}}),
    "fcos_norm": ("fcos", {"coder": {"norm_on_bbox": True}}),
    "fpn_tv": ("fpn", {"compat": "torchvision"}),
    "retinanet_tv": ("retinanet", {"compat": "torchvision"}),
    "ssd300_tv": ("ssd300", {"compat": "torchvision"}),
    "fcos_tv": ("fcos", {"compat": "torchvision"}),
    "atss": ("atss", {}),
}



# Nested preset key -> the flat name the oracle mirror reads (its own vocabulary, kept apart
# from samplegen's code on purpose).
_FLAT_RENAMES = {"sampler.type": "sampler", "sampler.num": "sampler_num", "input.size": "input_size",
                 "prior_generator.offset": "point_offset", "neg_mining.sampling": "neg_sampling",
                 "rcnn.sampler.num": "rcnn_sampler_num", "roi_level.canonical_scale": "roi_canonical_scale",
                 "roi_level.canonical_level": "roi_canonical_level", "roi_level.levels": "roi_levels"}


def flat_preset(values: dict, prefix: str = "") -> dict:
    """A nested preset as flat keys: a section's leaves are lifted to the top (``rcnn.*`` keys get
    an ``rcnn_`` prefix), with the few renames of `_FLAT_RENAMES`; ``roi_level`` becomes ``gt_level``."""
    flat: dict = {}
    for key, value in values.items():
        path = prefix + key
        if isinstance(value, dict):
            flat.update(flat_preset(value, path + "."))
            continue
        if path in _FLAT_RENAMES:
            flat[_FLAT_RENAMES[path]] = value
        elif path.startswith("rcnn."):
            flat["rcnn_" + path.rsplit(".", 1)[1]] = value
        else:
            flat[path.rsplit(".", 1)[-1]] = value
    if not prefix and "roi_level" in values:
        flat["gt_level"] = values["roi_level"] is not None
    return flat


def _merge(values: dict, overrides: dict) -> dict:
    out = dict(values)
    for key, value in overrides.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_preset_values(repo: Path, method: str, ov: dict) -> dict:
    """Preset values read straight from the YAML (the oracle mirrors them, not samplegen code),
    with the variant's nested overrides, as flat keys."""
    import yaml
    name = {"ssd": "ssd300"}.get(method, method)
    values = yaml.safe_load((repo / "configs/anchors" / f"{name}.yaml").read_text())
    return flat_preset(_merge(values, ov))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SAMPLEGEN_SHARED_DATA"))
    ap.add_argument("--oracle", default=os.environ.get("SAMPLEGEN_ORACLE"))
    ap.add_argument("--out", default="tests/golden/anchors")
    ap.add_argument("--only", nargs="*", help="variants to regenerate (default: all)")
    args = ap.parse_args()
    if not args.data or not args.oracle:
        ap.error("give --data and --oracle (or SAMPLEGEN_SHARED_DATA / SAMPLEGEN_ORACLE)")
    repo = Path(__file__).resolve().parent.parent
    oracle = Oracle(Path(args.oracle))
    coco = coco_cases(Path(args.data))
    synthetic = synthetic_cases()
    for split in ("train", "val"):        # dlib's 9 face photos, as its derived COCO files
        synthetic += coco_cases(Path(args.data), f"dlib_faces/derived/instances_{split}.json", f"dlib_faces/{split}/")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for variant, (method, ov) in VARIANTS.items():
        if args.only and variant not in args.only:
            continue
        cfg = load_preset_values(repo, method, ov)
        tv = cfg["compat"] == "torchvision"
        cases = (coco[:TV_COCO] if tv else coco) + synthetic
        rng = np.random.default_rng(SEED)
        rows = []
        for i, case in enumerate(cases):
            detail = not case["name"].startswith("coco128/") or i < DETAIL_COCO
            props = proposals_for(case, rng) if cfg.get("stage") == "rcnn" else None
            ref = oracle.reference(cfg, case, props)
            rows.append(pack(case, props, ref, detail))
        arrays = ragged(rows)
        arrays.update(method=np.array(method), overrides=np.array(json.dumps(ov, sort_keys=True)),
                      case_names=np.array([c["name"] for c in cases]))
        np.savez_compressed(out / f"{variant}.npz", **arrays)
        print(variant, len(cases), "cases", (out / f"{variant}.npz").stat().st_size, "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
