#!/usr/bin/env python
"""Regenerate the YOLOv3, YOLOv5 and CenterNet golden vectors in tests/golden/<method>/.

Dev-only. Run with the oracle environment (``../shared/oracle/setup.sh``: mmdetection 3.3.0 on CPU
torch) plus the ``yolov5`` package from the package index installed into it without its
dependencies (``pip install --no-deps yolov5==7.0.14 opencv-python-headless pandas psutil pyyaml
requests``), from the repository root:

    ORACLE_VENV/bin/python scripts/make_yolo_centernet_goldens.py \
        --data ../shared/data --oracle ../shared/oracle

Nothing here calls samplegen: every expected value comes from the references, driven through their
own code paths:

* yolov3: mmdet ``Resize(scale, keep_ratio=True)`` + ``stack_batch(pad_size_divisor=32)``;
  feature sizes from a real ``Darknet(53)`` + ``YOLOV3Neck`` + ``YOLOV3Head`` forward pass; then
  the head's own ``prior_generator.grid_priors``, ``responsible_flags`` and ``get_targets`` (the
  real ``GridAssigner``, ``PseudoSampler`` and ``YOLOBBoxCoder``); ``assigned_gt`` / ``max_iou``
  from the head's ``assigner.assign`` called as ``_get_targets_single`` calls it, checked
  against the target and negative maps;
* centernet: mmdet ``Resize(scale=(512, 512), keep_ratio=True)`` + ``Pad(size=(512, 512))``;
  the map size from a real ResNet-18 + ``CTResNetNeck`` + ``CenterNetHead`` forward pass; the
  head's own ``get_targets``;
* yolov5: the real ``LoadImagesAndLabels(img_size=640, augment=False)`` over blank images of each
  case's size with YOLO label files, ``collate_fn``, and ``ComputeLoss.build_targets`` with a stub
  model carrying yolov5s.yaml's anchors and strides. The image column of the targets is replaced
  by the row number, so the returned ``b`` index tells which GT each target came from.

Import shims (dev-only): mmshim / mmheads from the oracle folder plus bare namespace packages for
mmdet's backbones and necks; for yolov5, a bare ``yolov5`` package (its ``__init__`` pulls the
plotting stack) and stubs for ``ultralytics.utils.checks`` and ``pkg_resources``, which only its
requirement checks use.

Cases: every COCO128 image (non-crowd boxes; crowd boxes as ignore regions, which these heads do
not use), dlib's 9 face photos, seeded random images and adversarial ones per method (centres on
cell borders, tiny and huge boxes, many GTs in one cell, duplicates, empty GT, boxes on the
image border).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden_cases as base  # noqa: E402  (case readers, ragged storage, sha)
from anchor_oracle import _inside_image  # noqa: E402

SEED = 20240616
DETAIL_MAX = 6000


# ----------------------------------------------------------------------------- cases

def case(name, w, h, gt, labels=None, ignore=None) -> dict:
    gt = np.asarray(gt, np.float32).reshape(-1, 4)
    labels = np.arange(len(gt), dtype=np.int32) % 7 if labels is None else np.asarray(labels, np.int32)
    ig = np.zeros((0, 4), np.float32) if ignore is None else np.asarray(ignore, np.float32).reshape(-1, 4)
    return dict(name=name, width=w, height=h, gt=gt, labels=labels, ignore=ig)


def random_cases(rng: np.random.Generator) -> list[dict]:
    out = []
    for i in range(6):
        w, h = int(rng.integers(120, 1400)), int(rng.integers(120, 1100))
        boxes = base._random_boxes(rng, int(rng.integers(1, 40)), w, h, 2, 0.9 * min(w, h))
        out.append(case(f"random/{i}", w, h, boxes))
    out.append(case("random/many120", 1333, 800, base._random_boxes(rng, 120, 1333, 800, 4, 600)))
    return out


def adversarial_cases(size: int, cell: int) -> list[dict]:
    """Cases on a ``size`` square (no rescaling) whose coarse cells are ``cell`` pixels."""
    c = cell
    many = [[3 * c + 1 + k, 2 * c + 2, 3 * c + 9 + 3 * k, 2 * c + 12 + 2 * k] for k in range(10)]
    return [
        case("adversarial/empty_gt", size, size, [], ignore=[[10, 10, 200, 200]]),
        case("adversarial/cell_borders", size, size,
             [[c / 2, c / 2, 1.5 * c, 1.5 * c], [0, 0, 2 * c, 2 * c], [2 * c - 4, c - 4, 2 * c + 4, c + 4],
              [c, c, 2 * c, 2 * c], [4 * c - 0.5, 4 * c - 0.5, 4 * c + 0.5, 4 * c + 0.5],
              [5 * c - c / 4, 3 * c - c / 4, 5 * c + c / 4, 3 * c + c / 4], [7 * c, 2 * c, 9 * c, 6 * c]]),
        case("adversarial/tiny_and_huge", size, size,
             [[100, 100, 101, 101], [300.2, 200.2, 300.7, 200.9], [0, 0, size, size], [5, 5, size - 5, size - 5],
              [-60, -60, size + 60, size + 60], [200, 100, 203, 400], [40, 300, 400, 304]]),
        case("adversarial/many_in_one_cell", size, size, many + [many[0], many[3]],
             labels=[k % 3 for k in range(len(many) + 2)]),
        case("adversarial/border", size, size,
             [[size - 18, size - 18, size, size], [0, size / 2, 30, size / 2 + 40], [size - 1, 10, size + 30, 60],
              [-20, -20, 60, 60], [size / 2, -10, size / 2 + 50, 25], [size + 5, 5, size + 40, 40]]),
        case("adversarial/letterbox_640x480", 640, 480, [[0, 0, 640, 480], [10, 400, 90, 480], [300, 0, 340, 40]]),
        case("adversarial/portrait_small", 120, 333, [[10, 10, 110, 320], [40, 150, 60, 170]]),
    ]


def contiguous_coco_cases(data: Path, relative: str, prefix: str) -> list[dict]:
    """base.coco_cases with category ids mapped to contiguous 0-based indices (sorted ids), as
    mmdet's CocoDataset (cat2label) and samplegen's COCO reader do."""
    import json
    ids = sorted(c["id"] for c in json.loads((data / relative).read_text())["categories"])
    cases = base.coco_cases(data, relative, prefix)
    for c in cases:
        c["labels"] = np.searchsorted(ids, c["labels"]).astype(np.int32)
    return cases


def all_cases(data: Path, size: int, cell: int) -> list[dict]:
    cases = contiguous_coco_cases(data, "coco128/annotations/instances_train2017.json", "coco128/")
    for split in ("train", "val"):
        cases += contiguous_coco_cases(data, f"dlib_faces/derived/instances_{split}.json", f"dlib_faces/{split}/")
    return cases + random_cases(np.random.default_rng(SEED)) + adversarial_cases(size, cell)


def inside(c: dict) -> dict:
    """mmdet CocoDataset's skip rule (no overlap with the image), as _inside_image."""
    return dict(c, **_inside_image(c))


# ----------------------------------------------------------------------------- mmdet

def import_mmdet(oracle: Path):
    sys.path.insert(0, str(oracle))
    import torch
    import mmshim  # noqa: F401
    import mmheads  # noqa: F401
    import mmdet
    root = os.path.dirname(mmdet.__file__)
    for name, rel in (("mmdet.models.backbones", "models/backbones"), ("mmdet.models.necks", "models/necks")):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = [os.path.join(root, rel)]
            sys.modules[name] = mod
    res_layer = importlib.import_module("mmdet.models.layers.res_layer")
    sys.modules["mmdet.models.layers"].ResLayer = res_layer.ResLayer
    for loss in ("mse_loss", "gaussian_focal_loss", "smooth_l1_loss"):
        importlib.import_module("mmdet.models.losses." + loss)
    torch.set_grad_enabled(False)
    return torch


def mmdet_resize(c: dict, scale, torch):
    from mmdet.datasets.transforms.transforms import Resize
    from mmdet.structures.bbox import HorizontalBoxes
    res = Resize(scale=tuple(scale), keep_ratio=True)(dict(
        img=np.zeros((c["height"], c["width"], 3), np.uint8), gt_bboxes=HorizontalBoxes(c["gt"].copy())))
    return res


class Yolov3Oracle:
    def __init__(self, torch, cfg: dict):
        from mmengine.config import ConfigDict
        from mmdet.models.backbones.darknet import Darknet
        from mmdet.models.dense_heads.yolo_head import YOLOV3Head
        from mmdet.models.necks.yolo_neck import YOLOV3Neck
        self.torch, self.cfg = torch, cfg
        a = cfg["assigner"]
        gen = cfg["prior_generator"]
        self.head = YOLOV3Head(num_classes=80, in_channels=[512, 256, 128], out_channels=[1024, 512, 256],
                               anchor_generator=dict(type="YOLOAnchorGenerator", strides=gen["strides"],
                                                     base_sizes=[[tuple(s) for s in lv] for lv in gen["base_sizes"]]),
                               bbox_coder=dict(type="YOLOBBoxCoder", eps=cfg["coder"]["eps"]),
                               featmap_strides=gen["strides"],
                               train_cfg=ConfigDict(assigner=dict(type="GridAssigner", pos_iou_thr=a["pos_iou_thr"],
                                                                  neg_iou_thr=a["neg_iou_thr"],
                                                                  min_pos_iou=a["min_pos_iou"],
                                                                  gt_max_assign_all=a["gt_max_assign_all"])))
        self.backbone = Darknet(depth=53, out_indices=(3, 4, 5))
        self.backbone.eval()      # Darknet.train() returns None: no chaining
        self.neck = YOLOV3Neck(num_scales=3, in_channels=[1024, 512, 256], out_channels=[512, 256, 128]).eval()
        self.maps: dict = {}

    def featmaps(self, pad):
        if pad not in self.maps:
            pred = self.head(self.neck(self.backbone(self.torch.zeros(1, 3, *pad))))[0]
            self.maps[pad] = [tuple(p.shape[-2:]) for p in pred]
        return self.maps[pad]

    def reference(self, c: dict) -> dict:
        torch = self.torch
        from mmengine.model.utils import stack_batch
        from mmengine.structures import InstanceData
        if self.cfg["input"]["drop_outside_gt"]:
            c = inside(c)
        res = mmdet_resize(c, self.cfg["input"]["resize_scale"], torch)
        h, w = res["img_shape"]
        divisor = self.cfg["input"]["pad_size_divisor"]
        pad = tuple(stack_batch([torch.zeros(3, h, w)], pad_size_divisor=divisor).shape[-2:])
        maps = self.featmaps(pad)
        gt = res["gt_bboxes"].tensor
        labels = torch.from_numpy(c["labels"].astype(np.int64))
        head = self.head
        anchors = head.prior_generator.grid_priors(maps, device="cpu")
        flags = head.responsible_flags(maps, gt, "cpu")
        inst = InstanceData(bboxes=gt, labels=labels)
        target_maps, neg_maps = head.get_targets([anchors], [flags], [inst])
        target = torch.cat([t[0] for t in target_maps]).numpy()
        neg = torch.cat([n[0] for n in neg_maps]).numpy()
        # the assignment _get_targets_single computes (its result is not returned by get_targets)
        ar = head.assigner.assign(InstanceData(priors=torch.cat(anchors), responsible_flags=torch.cat(flags)), inst)
        assigned, max_iou = ar.gt_inds.numpy(), ar.max_overlaps.numpy()
        pos = np.flatnonzero(assigned > 0)
        assert np.array_equal(np.flatnonzero(target[:, 4] == 1), pos) and np.array_equal(neg == 1, assigned == 0)
        if len(pos):
            assert np.array_equal(target[pos, 5:].argmax(1), c["labels"][assigned[pos] - 1])
        priors = torch.cat(anchors).numpy()
        return dict(img_shape=np.array((h, w), np.int32), pad_shape=np.array(pad, np.int32),
                    scale_factor=np.array(res["scale_factor"], np.float64), gt_boxes=gt.numpy(),
                    priors=priors, priors_per_level=np.array([len(a) for a in anchors], np.int32),
                    assigned_gt=assigned, labels=ar.labels.numpy(), max_iou=max_iou,
                    responsible=torch.cat(flags).numpy().astype(bool), pos_targets=target[pos, :4])


class CenterNetOracle:
    def __init__(self, torch, cfg: dict):
        from mmdet.models.backbones.resnet import ResNet
        from mmdet.models.dense_heads.centernet_head import CenterNetHead
        from mmdet.models.necks.ct_resnet_neck import CTResNetNeck
        self.torch, self.cfg = torch, cfg
        self.head = CenterNetHead(in_channels=64, feat_channels=64, num_classes=cfg["head"]["num_classes"]).eval()
        backbone = ResNet(depth=18, norm_eval=False, norm_cfg=dict(type="BN"))
        backbone.eval()
        neck = CTResNetNeck(in_channels=512, num_deconv_filters=(256, 128, 64), num_deconv_kernels=(4, 4, 4),
                            use_dcn=False).eval()
        pad_w, pad_h = cfg["input"]["pad_size"]
        self.feat_shape = tuple(self.head(neck(backbone(torch.zeros(1, 3, pad_h, pad_w))))[0][0].shape)

    def reference(self, c: dict) -> dict:
        torch = self.torch
        from mmdet.datasets.transforms.transforms import Pad
        if self.cfg["input"]["drop_outside_gt"]:
            c = inside(c)
        res = mmdet_resize(c, self.cfg["input"]["resize_scale"], torch)
        img_shape = res["img_shape"]                  # Pad overwrites it with the padded shape (C.2)
        padded = Pad(size=tuple(self.cfg["input"]["pad_size"]))(res)
        gt = res["gt_bboxes"].tensor
        labels = torch.from_numpy(c["labels"].astype(np.int64))
        targets, avg = self.head.get_targets([gt], [labels], self.feat_shape, padded["pad_shape"])
        heat = targets["center_heatmap_target"][0].numpy()
        weight = targets["wh_offset_target_weight"][0, 0].numpy().reshape(-1)
        cells = np.flatnonzero(weight == 1)
        wh = targets["wh_target"][0].numpy().reshape(2, -1)[:, cells].T
        off = targets["offset_target"][0].numpy().reshape(2, -1)[:, cells].T
        nz = np.flatnonzero(heat.reshape(-1))
        return dict(img_shape=np.array(img_shape, np.int32), pad_shape=np.array(padded["pad_shape"][:2], np.int32),
                    scale_factor=np.array(res["scale_factor"], np.float64), gt_boxes=gt.numpy(),
                    feat_shape=np.array(self.feat_shape[2:], np.int32), avg_factor=np.array(int(avg)),
                    pos_inds=cells.astype(np.int32), pos_targets=np.concatenate([wh, off], 1).astype(np.float32),
                    heat_nz_idx=nz.astype(np.int64), heat_nz_val=heat.reshape(-1)[nz],
                    heat_sha=np.array(base.sha(heat, "<f4")), heat_sum=np.array(heat.astype(np.float64).sum()))


# ----------------------------------------------------------------------------- yolov5

def import_yolov5():
    import importlib.util
    import tvshim  # noqa: F401  (yolov5's dataloaders import torchvision)
    for name in ("ultralytics", "ultralytics.utils", "ultralytics.utils.checks", "pkg_resources"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["ultralytics.utils.checks"].check_requirements = lambda *a, **k: None
    sys.modules["pkg_resources"].parse_version = lambda v: v
    spec = importlib.util.find_spec("yolov5")
    package = types.ModuleType("yolov5")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["yolov5"] = package
    from yolov5.utils import dataloaders, loss
    return dataloaders, loss


def yolo_label_rows(c: dict) -> np.ndarray:
    """The YOLO label file of a case: (cls, cx, cy, w, h) normalised in float64, stored at float32
    precision; rows the loader would reject (and so drop the whole image for) are left out."""
    b = c["gt"].astype(np.float64)
    rows = np.stack([c["labels"].astype(np.float64), (b[:, 0] + b[:, 2]) / 2 / c["width"],
                     (b[:, 1] + b[:, 3]) / 2 / c["height"], (b[:, 2] - b[:, 0]) / c["width"],
                     (b[:, 3] - b[:, 1]) / c["height"]], 1).astype(np.float32).reshape(-1, 5)
    return rows[(rows >= 0).all(1) & (rows[:, 1:] <= 1).all(1)]


class Yolov5Oracle:
    def __init__(self, torch, cfg: dict, cases: list[dict], workdir: Path):
        import cv2
        self.dataloaders, loss = import_yolov5()
        self.torch, self.cfg = torch, cfg
        gen = cfg["prior_generator"]
        images, labels = workdir / "images", workdir / "labels"
        images.mkdir(parents=True)
        labels.mkdir()
        self.rows = {}
        for i, c in enumerate(cases):
            stem = f"{i:04d}"
            cv2.imwrite(str(images / f"{stem}.png"), np.zeros((c["height"], c["width"], 3), np.uint8))
            c = inside(c) if cfg["input"]["drop_outside_gt"] else c
            rows = yolo_label_rows(c)
            self.rows[stem] = rows
            text = "".join(f"{int(r[0])} " + " ".join(repr(float(v)) for v in r[1:]) + "\n" for r in rows)
            (labels / f"{stem}.txt").write_text(text)
        self.dataset = self.dataloaders.LoadImagesAndLabels(str(images), img_size=cfg["input"]["img_size"],
                                                            batch_size=1, augment=False, rect=False, stride=32)
        anchors = torch.tensor([[list(p) for p in lv] for lv in gen["anchors"]], dtype=torch.float32)
        strides = torch.tensor(gen["strides"], dtype=torch.float32)
        detect = types.SimpleNamespace(na=anchors.shape[1], nc=80, nl=len(strides), stride=strides,
                                       anchors=anchors / strides.view(-1, 1, 1))   # as models/yolo.py

        class StubModel(torch.nn.Module):       # what ComputeLoss reads from a model
            def __init__(self):
                super().__init__()
                self.weight = torch.nn.Parameter(torch.zeros(1))
                self.hyp = dict(cls_pw=1.0, obj_pw=1.0, fl_gamma=0.0, anchor_t=cfg["assigner"]["anchor_t"])
                self.model = [detect]
        self.loss = loss.ComputeLoss(StubModel())
        self.index = {Path(f).stem: k for k, f in enumerate(self.dataset.im_files)}

    def reference(self, i: int) -> dict:
        torch = self.torch
        stem = f"{i:04d}"
        img, targets, _, shapes = self.dataloaders.LoadImagesAndLabels.collate_fn([self.dataset[self.index[stem]]])
        kept = self.dataset.labels[self.index[stem]]
        written = self.rows[stem]
        # which written row each kept row is (np.unique keeps first occurrences, sorted)
        source = np.array([np.flatnonzero((written == r).all(1))[0] for r in kept], np.int64)
        targets[:, 0] = torch.arange(len(targets), dtype=torch.float32)   # b = row number
        size = img.shape[-1]
        p = [torch.zeros(1, 3, size // s, size // s, 85) for s in self.cfg["prior_generator"]["strides"]]
        tcls, tbox, indices, anch = self.loss.build_targets(p, targets)
        cat = lambda xs: torch.cat(xs).numpy()
        (h0, w0), ((rh, rw), pad) = shapes[0]
        return dict(letterbox_pad=np.array(pad, np.float64), rows=kept.astype(np.float32),
                    row_source=source, labels_out=targets[:, 1:].numpy(),
                    targets_per_level=np.array([len(t) for t in tcls], np.int32),
                    target_gt=cat([ix[0] for ix in indices]).astype(np.int32),
                    target_anchor=cat([ix[1] for ix in indices]).astype(np.int32),
                    target_cell=np.stack([cat([ix[2] for ix in indices]),
                                          cat([ix[3] for ix in indices])], 1).astype(np.int32),
                    target_box=cat(tbox).reshape(-1, 4), target_anchor_wh=cat(anch).reshape(-1, 2),
                    target_cls=cat(tcls).astype(np.int32))


# ----------------------------------------------------------------------------- storage

def inputs(c: dict) -> dict:
    return {"width": np.array(c["width"]), "height": np.array(c["height"]), "in_gt": c["gt"],
            "in_labels": c["labels"], "in_ignore": c["ignore"]}


def pack_yolov3(c: dict, ref: dict, detail: bool) -> dict:
    d = inputs(c)
    for key in ("img_shape", "pad_shape", "scale_factor", "gt_boxes", "priors_per_level", "pos_targets"):
        d[key] = ref[key]
    priors = ref["priors"]
    d["priors_sha"] = np.array(base.sha(priors, "<f4"))
    d["priors_rows"] = priors[np.linspace(0, len(priors) - 1, 16).astype(int)]
    for key in ("assigned_gt", "labels"):
        d[key + "_sha"] = np.array(base.sha(ref[key], "<i4"))
    d["max_iou_sha"] = np.array(base.sha(ref["max_iou"], "<f4"))
    d["responsible_sha"] = np.array(base.sha(ref["responsible"], "|u1"))
    pos = np.flatnonzero(ref["assigned_gt"] > 0)
    d["pos_inds"] = pos.astype(np.int32)
    d["max_iou_pos"] = ref["max_iou"][pos]
    nz = np.flatnonzero(ref["assigned_gt"] != 0)
    if detail and len(nz) <= DETAIL_MAX:
        d["nz_idx"], d["nz_val"] = nz.astype(np.int32), ref["assigned_gt"][nz].astype(np.int32)
    return d


def pack_centernet(c: dict, ref: dict, detail: bool) -> dict:
    d = inputs(c)
    for key in ("img_shape", "pad_shape", "scale_factor", "gt_boxes", "feat_shape", "avg_factor", "pos_inds",
                "pos_targets", "heat_sha", "heat_sum"):
        d[key] = ref[key]
    d["heat_nz_sha"] = np.array(base.sha(ref["heat_nz_idx"], "<i8"))
    d["heat_nz_count"] = np.array(len(ref["heat_nz_idx"]))
    if detail and len(ref["heat_nz_idx"]) <= 40000:
        d["heat_nz_idx"], d["heat_nz_val"] = ref["heat_nz_idx"].astype(np.int32), ref["heat_nz_val"]
    return d


def pack_yolov5(c: dict, ref: dict, detail: bool) -> dict:
    d = inputs(c)
    d.update({k: v for k, v in ref.items()})
    return d


METHODS = {   # golden file (tests/golden/<method>/<variant>.npz) -> preset, input square, coarse cell
    "yolov3": ("yolov3", 608, 32),
    "yolov3_416": ("yolov3_416", 416, 32),
    "centernet": ("centernet", 512, 4 * 8),
    "yolov5": ("yolov5", 640, 32),
}


def main() -> None:
    import yaml
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("SAMPLEGEN_SHARED_DATA"))
    ap.add_argument("--oracle", default=os.environ.get("SAMPLEGEN_ORACLE"))
    ap.add_argument("--out", default="tests/golden")
    ap.add_argument("--only", nargs="*", help=f"variants to regenerate (default: all of {list(METHODS)})")
    args = ap.parse_args()
    if not args.data or not args.oracle:
        ap.error("give --data and --oracle (or SAMPLEGEN_SHARED_DATA / SAMPLEGEN_ORACLE)")
    repo = Path(__file__).resolve().parent.parent
    torch = import_mmdet(Path(args.oracle))
    for variant, (preset, size, cell) in METHODS.items():
        if args.only and variant not in args.only:
            continue
        cfg = yaml.safe_load((repo / "configs/anchors" / f"{preset}.yaml").read_text())
        cases = all_cases(Path(args.data), size, cell)
        rows = []
        if variant.startswith("yolov3"):
            oracle = Yolov3Oracle(torch, cfg)
            for i, c in enumerate(cases):
                rows.append(pack_yolov3(c, oracle.reference(c), not c["name"].startswith("coco128/") or i < 3))
        elif variant == "centernet":
            oracle = CenterNetOracle(torch, cfg)
            for i, c in enumerate(cases):
                rows.append(pack_centernet(c, oracle.reference(c), not c["name"].startswith("coco128/") or i < 3))
        else:
            with tempfile.TemporaryDirectory() as work:
                oracle = Yolov5Oracle(torch, cfg, cases, Path(work))
                rows = [pack_yolov5(c, oracle.reference(i), True) for i, c in enumerate(cases)]
        arrays = base.ragged(rows)
        arrays.update(method=np.array(cfg["method"]), preset=np.array(preset),
                      case_names=np.array([c["name"] for c in cases]))
        path = repo / args.out / cfg["method"] / f"{variant}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        print(variant, len(cases), "cases", path.stat().st_size, "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
