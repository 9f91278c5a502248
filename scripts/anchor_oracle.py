"""mmdetection 3.3.0 / torchvision 0.28 as the anchor reference (dev-only, oracle environment).

`Oracle.reference(cfg, case, props)` computes one case's expected arrays with the real library
components (see make_anchor_goldens.py for the list); `cfg` holds the preset's values under the
flat names this mirror was written with (`make_anchor_goldens.flat_preset`).
"""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

class Oracle:
    def __init__(self, oracle_dir: Path):
        sys.path.insert(0, str(oracle_dir))
        import torch
        import mmshim  # noqa: F401
        import mmheads  # noqa: F401
        import tvshim  # noqa: F401
        self.torch = torch
        torch.set_grad_enabled(False)
        self._maps: dict = {}
        self._backbones: dict = {}

    # geometry --------------------------------------------------------------
    def geometry(self, case: dict, boxes: list[np.ndarray], keep_ratio: bool, scale, divisor: int):
        from mmdet.datasets.transforms.transforms import Resize
        from mmdet.structures.bbox import HorizontalBoxes
        from mmengine.model.utils import stack_batch
        sizes = [len(b) for b in boxes]
        allb = np.concatenate([b.reshape(-1, 4) for b in boxes]).astype(np.float32)
        res = Resize(scale=scale, keep_ratio=keep_ratio)(dict(
            img=np.zeros((case["height"], case["width"], 3), np.uint8), gt_bboxes=HorizontalBoxes(allb)))
        h, w = res["img_shape"]
        pad = tuple(stack_batch([self.torch.zeros(3, h, w)], pad_size_divisor=divisor).shape[-2:])
        scaled = res["gt_bboxes"].tensor.numpy()
        parts = np.split(scaled, np.cumsum(sizes)[:-1])
        return (h, w), pad, tuple(float(s) for s in res["scale_factor"]), parts

    def featmaps(self, pad, kind: str):
        """Feature sizes of a real ResNet-50 FPN forward pass (cached per padded shape)."""
        key = (pad, kind)
        if key not in self._maps:
            from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
            from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7
            if kind not in self._backbones:
                layers, extra = ([1, 2, 3, 4], LastLevelMaxPool()) if kind == "rpn" else ([2, 3, 4], LastLevelP6P7(256, 256))
                self._backbones[kind] = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=5,
                                                            returned_layers=layers, extra_blocks=extra).eval()
            out = self._backbones[kind](self.torch.zeros(1, 3, *pad))
            self._maps[key] = [tuple(v.shape[-2:]) for v in out.values()]
        return self._maps[key]

    # references ------------------------------------------------------------
    def reference(self, cfg: dict, case: dict, props) -> dict:
        """Expected arrays of one case under preset values `cfg`."""
        tv = cfg["compat"] == "torchvision"
        ssd = cfg["method"].startswith("ssd")
        if cfg["drop_outside_gt"]:           # mmdet CocoDataset.parse_data_info's skip rule
            case = dict(case, **_inside_image(case))
        boxes = [case["gt"], case["ignore"]] + ([props] if props is not None else [])
        if ssd:
            size = (cfg["input_size"], cfg["input_size"])
            img, pad, sf, parts = self.geometry(case, boxes, False, size, 1)
            maps = [tuple(m) for m in cfg["featmap_sizes"]]
        else:
            img, pad, sf, parts = self.geometry(case, boxes, True, tuple(cfg["resize_scale"]), cfg["pad_size_divisor"])
            kind = "rpn" if cfg["method"] in ("fpn", "faster_rcnn") else "p3p7"
            maps = self.featmaps(pad, kind)
            if cfg["method"] == "faster_rcnn":
                maps = [maps[2]]                      # stride 16
        gt, ignore = parts[0], parts[1]
        labels = case["labels"]
        out = dict(img_shape=np.array(img, np.int32), pad_shape=np.array(pad, np.int32),
                   scale_factor=np.array(sf, np.float64), gt_boxes=gt.astype(np.float32))
        if cfg["method"] == "atss":
            out.update(self.atss(cfg, maps, pad, gt, labels, ignore))
        elif cfg["method"] == "fcos":
            out.update(self.fcos_tv(cfg, maps, pad, gt, labels) if tv else self.fcos(cfg, maps, gt, labels))
        elif cfg.get("stage") == "rcnn":
            out.update(self.rcnn(cfg, parts[2], gt, labels, ignore))
        else:
            out.update(self.dense(cfg, maps, pad, gt, labels, ignore))
        if cfg.get("gt_level"):
            b = gt.astype(np.float64)
            area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
            with np.errstate(divide="ignore"):
                k = np.floor(cfg["roi_canonical_level"] + np.log2(np.sqrt(area) / cfg["roi_canonical_scale"]))
            out["gt_level"] = np.clip(k, *cfg["roi_levels"]).astype(np.int32)
        return out

    def priors(self, cfg: dict, maps, pad):
        torch = self.torch
        from mmdet.models.task_modules.prior_generators import (AnchorGenerator, MlvlPointGenerator,
                                                                SSDAnchorGenerator)
        if cfg["compat"] == "torchvision":
            from torchvision.models.detection.anchor_utils import AnchorGenerator as TvAnchors, DefaultBoxGenerator
            from torchvision.models.detection.image_list import ImageList
            images = ImageList(torch.zeros(1, 3, *pad), [tuple(pad)])
            feats = [torch.zeros(1, 1, *m) for m in maps]
            if cfg["method"].startswith("ssd"):
                gen = DefaultBoxGenerator([list(r) for r in cfg["ratios"]], scales=cfg["tv_scales"],
                                          steps=cfg["strides"], clip=cfg["tv_clip"])
            elif cfg["method"] == "fcos":
                gen = TvAnchors(tuple((s,) for s in cfg["tv_sizes"]), ((1.0,),) * len(maps))
            else:
                gen = TvAnchors(tuple(tuple(s) for s in cfg["tv_sizes"]), (tuple(cfg["ratios"]),) * len(maps))
            return gen(images, feats)[0], gen
        if cfg["method"].startswith("ssd"):
            kw = dict(strides=cfg["strides"], ratios=[list(r) for r in cfg["ratios"]], scale_major=False,
                      input_size=cfg["input_size"])
            if cfg["sizes"] == "explicit":
                kw.update(min_sizes=cfg["min_sizes"], max_sizes=cfg["max_sizes"])
            else:
                kw["basesize_ratio_range"] = tuple(cfg[cfg["sizes"] + "_basesize_ratio_range"])
            gen = SSDAnchorGenerator(**kw)
        elif cfg["method"] == "fcos":
            gen = MlvlPointGenerator(cfg["strides"], offset=cfg["point_offset"])
        elif cfg.get("scales") is not None:
            gen = AnchorGenerator(strides=cfg["strides"], ratios=cfg["ratios"], scales=cfg["scales"])
        else:
            gen = AnchorGenerator(strides=cfg["strides"], ratios=cfg["ratios"],
                                  octave_base_scale=cfg["octave_base_scale"], scales_per_octave=cfg["scales_per_octave"])
        return torch.cat(gen.grid_priors(maps, dtype=torch.float32, device="cpu")), gen

    def dense(self, cfg: dict, maps, pad, gt, labels, ignore) -> dict:
        """RPN / RetinaNet / SSD: priors, MaxIoU (or Matcher), sampler counts, delta targets."""
        torch = self.torch
        from mmengine.structures import InstanceData
        from mmdet.models.task_modules.assigners import MaxIoUAssigner
        from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
        from mmdet.models.task_modules.prior_generators import anchor_inside_flags
        from mmdet.models.task_modules.samplers import RandomSampler
        priors, gen = self.priors(cfg, maps, pad)
        counts = np.array([int(np.prod(m)) * n for m, n in zip(maps, self.per_cell(cfg, gen))], np.int32)
        out = dict(priors=priors.numpy(), priors_per_level=counts)
        tgt, lab = torch.from_numpy(gt), torch.from_numpy(labels.astype(np.int64))
        if cfg["compat"] == "torchvision":
            out.update(self.tv_match(cfg, priors, tgt, lab))
        else:
            inside = torch.ones(len(priors), dtype=torch.bool)
            if cfg["allowed_border"] >= 0:
                valid = torch.cat(gen.valid_flags(maps, tuple(pad), device="cpu"))
                inside = anchor_inside_flags(priors, valid, tuple(pad), cfg["allowed_border"])
            assigner = MaxIoUAssigner(pos_iou_thr=cfg["pos_iou_thr"], neg_iou_thr=_thr(cfg["neg_iou_thr"]),
                                      min_pos_iou=cfg["min_pos_iou"], gt_max_assign_all=cfg["gt_max_assign_all"],
                                      match_low_quality=cfg["match_low_quality"], ignore_iof_thr=cfg["ignore_iof_thr"],
                                      ignore_wrt_candidates=cfg["ignore_wrt_candidates"])
            res = assigner.assign(InstanceData(priors=priors[inside]), InstanceData(bboxes=tgt, labels=lab),
                                  InstanceData(bboxes=torch.from_numpy(ignore)))
            assigned = np.full(len(priors), -1, np.int64)
            max_iou = np.zeros(len(priors), np.float32)
            lbl = np.full(len(priors), -1, np.int64)
            assigned[inside.numpy()] = res.gt_inds.numpy()
            max_iou[inside.numpy()] = res.max_overlaps.numpy()
            lbl[inside.numpy()] = res.labels.numpy()
            out.update(assigned_gt=assigned, max_iou=max_iou, labels=lbl)
            if cfg.get("sampler") == "random":
                sampler = RandomSampler(num=cfg["sampler_num"], pos_fraction=cfg["pos_fraction"],
                                        neg_pos_ub=cfg["neg_pos_ub"], add_gt_as_proposals=cfg["add_gt_as_proposals"])
                sr = sampler.sample(res, InstanceData(priors=priors[inside]), InstanceData(bboxes=tgt, labels=lab))
                out.update(num_sampled_pos=len(sr.pos_inds), num_sampled_neg=len(sr.neg_inds))
            coder = DeltaXYWHBBoxCoder(target_means=cfg["target_means"], target_stds=cfg["target_stds"])
            pos = np.flatnonzero(assigned > 0)
            out["pos_targets"] = self.encode(coder, priors.numpy()[pos], gt[assigned[pos] - 1])
        if cfg["method"].startswith("ssd"):
            num_pos = int((out["assigned_gt"] > 0).sum())
            num_bg = len(priors) - num_pos              # SSDHead: labels == num_classes
            out["neg_budget"] = np.array(min(cfg["neg_pos_ratio"] * num_pos, num_bg), np.int32)
        return out

    def per_cell(self, cfg, gen):
        if cfg["compat"] == "torchvision":
            return gen.num_anchors_per_location()
        return gen.num_base_priors

    def encode(self, coder, priors, matched):
        if len(priors) == 0:
            return np.zeros((0, 4), np.float32)
        return coder.encode(self.torch.from_numpy(priors), self.torch.from_numpy(matched)).numpy()

    def tv_match(self, cfg, priors, tgt, lab) -> dict:
        """torchvision Matcher / SSDMatcher + BalancedPositiveNegativeSampler + BoxCoder."""
        torch = self.torch
        from torchvision.ops import box_iou
        from torchvision.models.detection._utils import (BalancedPositiveNegativeSampler, BoxCoder, Matcher,
                                                         SSDMatcher)
        n = len(priors)
        if len(tgt) == 0:
            assigned = np.zeros(n, np.int64)
            max_iou = np.zeros(n, np.float32)
        else:
            iou = box_iou(tgt, priors)
            if cfg["method"].startswith("ssd"):
                m = SSDMatcher(cfg["pos_iou_thr"])(iou)
            else:
                m = Matcher(cfg["pos_iou_thr"], _low(cfg["neg_iou_thr"]), cfg["match_low_quality"])(iou)
            m = m.numpy().astype(np.int64)
            assigned = m + 1
            assigned[m == -1] = 0
            assigned[m == -2] = -1
            max_iou = iou.max(dim=0).values.numpy()
        lbl = np.full(n, -1, np.int64)
        pos = np.flatnonzero(assigned > 0)
        lbl[pos] = lab.numpy()[assigned[pos] - 1]
        out = dict(assigned_gt=assigned, max_iou=max_iou, labels=lbl)
        if cfg.get("sampler") == "random":
            rpn_labels = torch.from_numpy((assigned > 0).astype(np.float32))
            rpn_labels[torch.from_numpy(assigned == -1)] = -1.0
            p, ng = BalancedPositiveNegativeSampler(cfg["sampler_num"], cfg["pos_fraction"])([rpn_labels])
            out.update(num_sampled_pos=int(p[0].sum()), num_sampled_neg=int(ng[0].sum()))
        weights = tuple(1.0 / s for s in cfg["target_stds"])
        if len(pos):
            t = BoxCoder(weights).encode_single(tgt[assigned[pos] - 1], priors[pos]).numpy()
        else:
            t = np.zeros((0, 4), np.float32)
        out["pos_targets"] = t
        return out

    def rcnn(self, cfg: dict, props, gt, labels, ignore) -> dict:
        """R-CNN stage: MaxIoU on proposals, RandomSampler with GTs prepended, deltas."""
        torch = self.torch
        from mmengine.structures import InstanceData
        from mmdet.models.task_modules.assigners import MaxIoUAssigner
        from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
        from mmdet.models.task_modules.samplers import RandomSampler
        tgt, lab = torch.from_numpy(gt), torch.from_numpy(labels.astype(np.int64))
        assigner = MaxIoUAssigner(pos_iou_thr=cfg["rcnn_pos_iou_thr"], neg_iou_thr=_thr(cfg["rcnn_neg_iou_thr"]),
                                  min_pos_iou=cfg["rcnn_min_pos_iou"], gt_max_assign_all=cfg["rcnn_gt_max_assign_all"],
                                  match_low_quality=cfg["rcnn_match_low_quality"], ignore_iof_thr=cfg["ignore_iof_thr"])
        pr = torch.from_numpy(props.astype(np.float32))
        res = assigner.assign(InstanceData(priors=pr), InstanceData(bboxes=tgt, labels=lab),
                              InstanceData(bboxes=torch.from_numpy(ignore)))
        sampler = RandomSampler(num=cfg["rcnn_sampler_num"], pos_fraction=cfg["rcnn_pos_fraction"],
                                neg_pos_ub=cfg["rcnn_neg_pos_ub"], add_gt_as_proposals=cfg["rcnn_add_gt_as_proposals"])
        sr = sampler.sample(res, InstanceData(priors=pr), InstanceData(bboxes=tgt, labels=lab))
        # BaseSampler.sample prepends the GTs to the proposals (SamplingResult.priors holds only
        # the sampled rows, so the full row set is rebuilt the way sample() builds it)
        with_gt = cfg["rcnn_add_gt_as_proposals"] and len(gt) > 0
        rows = np.concatenate([gt, props]).astype(np.float32) if with_gt else props.astype(np.float32)
        assert len(rows) == len(res.gt_inds)
        assigned = res.gt_inds.numpy()
        pos = np.flatnonzero(assigned > 0)
        coder = DeltaXYWHBBoxCoder(target_means=cfg["rcnn_target_means"], target_stds=cfg["rcnn_target_stds"])
        return dict(priors=rows, priors_per_level=np.array([len(rows)], np.int32), assigned_gt=assigned,
                    max_iou=res.max_overlaps.numpy(), labels=res.labels.numpy(),
                    num_sampled_pos=len(sr.pos_inds), num_sampled_neg=len(sr.neg_inds),
                    pos_targets=self.encode(coder, rows[pos], gt[assigned[pos] - 1]))

    def atss(self, cfg: dict, maps, pad, gt, labels, ignore) -> dict:
        """ATSSAssigner on AnchorGenerator priors; max_iou from mmdet's bbox_overlaps."""
        torch = self.torch
        from mmengine.structures import InstanceData
        from mmdet.models.task_modules.assigners import ATSSAssigner
        from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
        from mmdet.structures.bbox import bbox_overlaps
        priors, gen = self.priors(cfg, maps, pad)
        counts = [int(np.prod(m)) * n for m, n in zip(maps, gen.num_base_priors)]
        tgt, lab = torch.from_numpy(gt), torch.from_numpy(labels.astype(np.int64))
        def run():
            return ATSSAssigner(topk=cfg["topk"], ignore_iof_thr=cfg["ignore_iof_thr"]).assign(
                InstanceData(priors=priors), counts, InstanceData(bboxes=tgt, labels=lab),
                InstanceData(bboxes=torch.from_numpy(ignore)))

        # torch.sqrt on this CPU build (AVX512 / MKL) is off by 1 ulp in ~17 % of values, so
        # near-equal centre distances order differently on other machines. The expected values
        # use mmdet's ATSSAssigner with an IEEE (correctly rounded) sqrt; `torch_sqrt_differs`
        # records whether stock torch gave a different assignment for the case.
        from mmdet.models.task_modules.assigners import atss_assigner
        stock = run().gt_inds.numpy()
        original = atss_assigner.bbox_center_distance
        atss_assigner.bbox_center_distance = _ieee_center_distance
        try:
            res = run()
        finally:
            atss_assigner.bbox_center_distance = original
        assigned = res.gt_inds.numpy()
        tie = 0
        if len(gt):
            dist, start = _ieee_center_distance(tgt, priors).numpy(), 0
            for n in counts:                 # equal k-th and (k+1)-th distance: torch.topk's pick
                if n > cfg["topk"]:          # among them is implementation-defined
                    part = np.sort(dist[start:start + n], axis=0)
                    tie |= int((part[cfg["topk"] - 1] == part[cfg["topk"]]).any())
                start += n
        max_iou = (bbox_overlaps(priors, tgt).max(dim=1).values.numpy() if len(gt)
                   else np.zeros(len(priors), np.float32))
        pos = np.flatnonzero(assigned > 0)
        coder = DeltaXYWHBBoxCoder(target_means=cfg["target_means"], target_stds=cfg["target_stds"])
        return dict(priors=priors.numpy(), priors_per_level=np.array(counts, np.int32), assigned_gt=assigned,
                    max_iou=max_iou, labels=res.labels.numpy(), torch_sqrt_differs=int(not np.array_equal(stock, assigned)), topk_boundary_tie=tie,
                    pos_targets=self.encode(coder, priors.numpy()[pos], gt[assigned[pos] - 1]))

    def fcos(self, cfg: dict, maps, gt, labels) -> dict:
        torch = self.torch
        from mmengine.structures import InstanceData
        from mmdet.models.dense_heads.fcos_head import FCOSHead
        head = FCOSHead(num_classes=91, in_channels=32, feat_channels=32, stacked_convs=1, strides=cfg["strides"],
                        regress_ranges=tuple(tuple(r) for r in cfg["regress_ranges"]),
                        center_sampling=cfg["center_sampling"], center_sample_radius=cfg["center_sample_radius"],
                        norm_on_bbox=cfg["norm_on_bbox"])
        pts = head.prior_generator.grid_priors(maps, dtype=torch.float32, device="cpu")
        lab, tgt = head.get_targets(pts, [InstanceData(bboxes=torch.from_numpy(gt),
                                                       labels=torch.from_numpy(labels.astype(np.int64)))])
        lab, tgt = torch.cat(lab).numpy(), torch.cat(tgt)
        pos = np.flatnonzero(lab < 91)
        # get_targets returns labels, not gt indices: recover the index as the smallest-area
        # candidate is not exposed, so store the matched box through its targets instead.
        assigned = np.zeros(len(lab), np.int64)
        assigned[pos] = self.fcos_gt_index(torch.cat(pts).numpy()[pos], tgt.numpy()[pos], gt, cfg, maps, pos)
        lbl = np.where(lab < 91, lab, -1)
        return dict(priors=torch.cat(pts).numpy(), priors_per_level=np.array([len(p) for p in pts], np.int32),
                    assigned_gt=assigned, labels=lbl, pos_targets=tgt.numpy()[pos],
                    centerness=head.centerness_target(tgt[pos]).numpy() if len(pos) else np.zeros(0, np.float32))

    def fcos_gt_index(self, points, targets, gt, cfg, maps, pos):
        """1-based GT index of each positive: the first GT whose l/t/r/b equal the reference's.

        Identical duplicate boxes give identical targets; FCOS picks the first of equal areas,
        which is also the first match here.
        """
        strides = np.repeat(cfg["strides"], [int(np.prod(m)) for m in maps])[pos].astype(np.float32)
        out = np.zeros(len(points), np.int64)
        for k, (p, t) in enumerate(zip(points, targets)):
            ltrb = np.stack([p[0] - gt[:, 0], p[1] - gt[:, 1], gt[:, 2] - p[0], gt[:, 3] - p[1]], 1)
            if cfg["norm_on_bbox"]:
                ltrb = ltrb / strides[k]
            out[k] = np.flatnonzero((ltrb == t).all(1))[0] + 1
        return out

    def fcos_tv(self, cfg: dict, maps, pad, gt, labels) -> dict:
        """torchvision FCOS.compute_loss matching, run through the real method with a stub head."""
        torch = self.torch
        from torchvision.models.detection.fcos import FCOS
        anchors, gen = self.priors(cfg, maps, pad)
        counts = [int(np.prod(m)) for m in maps]
        stub = types.SimpleNamespace(center_sampling_radius=cfg["center_sample_radius"],
                                     head=types.SimpleNamespace(compute_loss=lambda t, h, a, m: m))
        targets = [dict(boxes=torch.from_numpy(gt), labels=torch.from_numpy(labels.astype(np.int64)))]
        m = FCOS.compute_loss(stub, targets, {}, [anchors], counts)[0].numpy()
        assigned = np.where(m >= 0, m + 1, 0)
        pos = np.flatnonzero(assigned > 0)
        points = ((anchors[:, :2] + anchors[:, 2:]) / 2).numpy()
        lbl = np.full(len(m), -1, np.int64)
        lbl[pos] = labels[assigned[pos] - 1]
        g = gt[assigned[pos] - 1]
        p = points[pos]
        ltrb = np.stack([p[:, 0] - g[:, 0], p[:, 1] - g[:, 1], g[:, 2] - p[:, 0], g[:, 3] - p[:, 1]], 1)
        lr, tb = ltrb[:, [0, 2]], ltrb[:, [1, 3]]
        ctr = np.sqrt(lr.min(1) / lr.max(1) * (tb.min(1) / tb.max(1))) if len(pos) else np.zeros(0, np.float32)
        return dict(priors=points, priors_per_level=np.array(counts, np.int32), assigned_gt=assigned,
                    labels=lbl, pos_targets=ltrb.astype(np.float32), centerness=ctr.astype(np.float32))


def _inside_image(case: dict) -> dict:
    """gt / labels without the boxes mmdet's CocoDataset skips (``inter_w * inter_h == 0``)."""
    keep = []
    for x1, y1, x2, y2 in case["gt"].tolist():
        inter_w = max(0, min(x2, case["width"]) - max(x1, 0))
        inter_h = max(0, min(y2, case["height"]) - max(y1, 0))
        keep.append(inter_w * inter_h != 0)
    keep = np.array(keep, bool)
    return dict(gt=case["gt"][keep], labels=case["labels"][keep])


def _ieee_center_distance(bboxes, priors):
    """mmdet's bbox_center_distance with the final sqrt correctly rounded (float64 -> float32)."""
    import torch
    bbox_points = torch.stack(((bboxes[:, 0] + bboxes[:, 2]) / 2.0, (bboxes[:, 1] + bboxes[:, 3]) / 2.0), dim=1)
    priors_points = torch.stack(((priors[:, 0] + priors[:, 2]) / 2.0, (priors[:, 1] + priors[:, 3]) / 2.0), dim=1)
    squared = (priors_points[:, None, :] - bbox_points[None, :, :]).pow(2).sum(-1)
    return squared.double().sqrt().float()


def _thr(value):
    """A YAML list pair becomes mmdet's tuple form; a number stays a float."""
    return tuple(float(v) for v in value) if isinstance(value, (list, tuple)) else float(value)


def _low(value):
    return value[1] if isinstance(value, (list, tuple)) else value
