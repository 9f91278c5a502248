"""Time mmdetection 3.3.0 labelling the benchmark's images for FPN's RPN (run by the oracle python).

    .oracle-venv/bin/python scripts/anchors_oracle_bench.py CASES.npz OUT.npz [--oracle-dir DIR]

`CASES.npz` (written by ``scripts/bench.py``) holds, per image i, ``gt_i`` float32 [G, 4] (GT boxes
already resized to the network input, as samplegen and mmdet's ``Resize`` give them),
``featmaps_i`` int [L, 2] and ``pad_i`` int [2], plus the FPN preset numbers. For each image this
does, on one CPU thread, what mmdetection's RPN head does per image at training time:
``AnchorGenerator.grid_priors`` -> ``MaxIoUAssigner.assign`` -> ``RandomSampler.sample`` ->
``DeltaXYWHBBoxCoder.encode`` of the sampled positives. Image 0 is run once untimed first
(warm-up: lazy imports, allocator). `OUT.npz` gets ``seconds`` float64 [N] and ``assigned_i``
(mmdet ``gt_inds``) so the caller can check that both tools agree.

The oracle environment is built by ``../shared/oracle/setup.sh``; ``mmshim`` (imported from
`--oracle-dir`, default ``../shared/oracle`` beside the repo) makes mmdet's task modules import on
a CPU-only torch.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cases")
    parser.add_argument("out")
    parser.add_argument("--oracle-dir", default=str(REPO.parent / "shared" / "oracle"))
    args = parser.parse_args()
    sys.path.insert(0, args.oracle_dir)
    import torch
    import mmshim  # noqa: F401  (stubs compiled mmcv ops before mmdet imports)
    from mmengine.structures import InstanceData
    from mmdet.models.task_modules.assigners import MaxIoUAssigner
    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
    from mmdet.models.task_modules.prior_generators import AnchorGenerator
    from mmdet.models.task_modules.samplers import RandomSampler

    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    data = np.load(args.cases)
    n = int(data["count"])
    cfg = {k: data[k].tolist() for k in ("strides", "ratios", "scales", "thresholds", "sampler", "stds")}
    pos_thr, neg_thr, min_pos = cfg["thresholds"]
    generator = AnchorGenerator(strides=cfg["strides"], ratios=cfg["ratios"], scales=cfg["scales"])
    assigner = MaxIoUAssigner(pos_iou_thr=pos_thr, neg_iou_thr=neg_thr, min_pos_iou=min_pos,
                              gt_max_assign_all=True, match_low_quality=True, ignore_iof_thr=-1)
    sampler = RandomSampler(num=int(cfg["sampler"][0]), pos_fraction=cfg["sampler"][1], neg_pos_ub=-1,
                            add_gt_as_proposals=False)
    coder = DeltaXYWHBBoxCoder(target_means=[0.0] * 4, target_stds=cfg["stds"])

    def label(i: int) -> np.ndarray:
        featmaps = [tuple(int(v) for v in m) for m in data[f"featmaps_{i}"]]
        gts = torch.from_numpy(data[f"gt_{i}"])
        priors = torch.cat(generator.grid_priors(featmaps, dtype=torch.float32, device="cpu"))
        gt = InstanceData(bboxes=gts, labels=torch.zeros(len(gts), dtype=torch.long))
        pred = InstanceData(priors=priors)
        result = assigner.assign(pred, gt)
        sampled = sampler.sample(result, pred, gt)
        if len(sampled.pos_inds):
            coder.encode(sampled.pos_priors, sampled.pos_gt_bboxes)
        return result.gt_inds.numpy()

    label(0)
    seconds = np.zeros(n)
    out = {}
    for i in range(n):
        start = time.perf_counter()
        assigned = label(i)
        seconds[i] = time.perf_counter() - start
        out[f"assigned_{i}"] = assigned.astype(np.int32)
    np.savez(args.out, seconds=seconds, **out)


if __name__ == "__main__":
    main()
