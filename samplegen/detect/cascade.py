"""The MTCNN inference cascade on one image: PNet over the pyramid, then optionally RNet.

Stage 1 (PNet): for each pyramid level, resize, normalise, one forward pass, candidate windows
above the threshold (`grid`), NMS within the level; then NMS across levels, calibration with the
regression offsets and the preset's finish (ipazc: square and truncate). Stage 2 (RNet): the
stage-1 boxes prepared (AITTSMD: square and round), their windows cut and resized (`crop`), RNet
in batches, threshold, NMS, calibration and finish. Each step is the reference's computation
in its float64 order, so with the ``ipazc`` preset both stages equal ipazc/mtcnn's (mtcnn-
onnxruntime 0.0.1) on the same weights (tests/detect/test_detect_golden.py).

`detect_faces` is pure apart from the nets it runs; the engine calls it per image in worker
processes (one OpenCV thread each) with nets from `samplegen.detect.nets.load_nets`.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from samplegen.detect.config import DetectConfig
from samplegen.detect.crop import rnet_crops
from samplegen.detect.grid import pnet_boxes_single_level
from samplegen.detect.layout import batch_to_blob, image_to_blob, map_from_output, pixel_lut
from samplegen.detect.nets import Net, Nets
from samplegen.detect.nms import nms
from samplegen.detect.pyramid import pyramid_levels, resize_level
from samplegen.detect.refine import calibrate, finish

BOX_COLUMNS = 5
"""Rows of a stage's boxes: x1, y1, x2, y2 (continuous image pixels), score."""


@dataclass(frozen=True)
class DetectResult:
    """Per-stage boxes of one image, float32 [N, 5] rows ``x1 y1 x2 y2 score``, best first.

    Attributes:
        pnet_boxes: stage-1 output (after cross-level NMS, calibration and the preset's finish).
        rnet_boxes: stage-2 output, or None when no RNet was given. [0, 5] when nothing passed.
    """

    pnet_boxes: np.ndarray
    rnet_boxes: np.ndarray | None


def _empty() -> np.ndarray:
    return np.zeros((0, BOX_COLUMNS), np.float64)


def pnet_stage(image: np.ndarray, net: Net, cfg: DetectConfig) -> np.ndarray:
    """Stage-1 boxes of an image in the nets' channel order.

    Args:
        image: uint8 [H, W, 3].
        net: the loaded PNet.
        cfg: `DetectConfig` (pyramid, input, pnet).

    Returns:
        float64 [N, 5] ``x1 y1 x2 y2 score`` in kept order; [0, 5] when no window passes.
    """
    stage = cfg.pnet
    lut = pixel_lut(cfg.input.mean, cfg.input.scale)
    per_level = []
    for level in pyramid_levels(image.shape[0], image.shape[1], cfg.pyramid):
        resized = resize_level(image, level, cfg.pyramid.interpolation)
        regression, prob = net.forward(image_to_blob(resized, lut, net.layout))
        score_map = map_from_output(prob, net.layout)[:, :, cfg.input.face_class]
        candidates = pnet_boxes_single_level(score_map, map_from_output(regression, net.layout),
                                             level.scale, stage.threshold, stage.inclusive, stage.grid)
        if len(candidates):
            per_level.append(candidates[nms(candidates[:, :4], candidates[:, 4], stage.level_nms)])
    if not per_level:
        return _empty()
    candidates = np.concatenate(per_level)
    candidates = candidates[nms(candidates[:, :4], candidates[:, 4], stage.cross_level_nms)]
    boxes = finish(calibrate(candidates[:, :4], candidates[:, 5:9], stage.calibrate_plus_one), stage.finish)
    return np.column_stack([boxes, candidates[:, 4]])


def _rnet_outputs(crops: np.ndarray, net: Net, cfg: DetectConfig) -> tuple[np.ndarray, np.ndarray]:
    """Face scores float32 [K] and offsets float32 [K, 4] of crops [K, S, S, 3], in batches."""
    scores, offsets = [], []
    for start in range(0, len(crops), cfg.rnet.batch_size):
        regression, prob = net.forward(batch_to_blob(crops[start:start + cfg.rnet.batch_size], net.layout))
        scores.append(prob[:, cfg.input.face_class])
        offsets.append(regression)
    return np.concatenate(scores), np.concatenate(offsets)


def rnet_stage(image: np.ndarray, boxes: np.ndarray, net: Net, cfg: DetectConfig) -> np.ndarray:
    """Stage-2 boxes from stage-1 boxes.

    Args:
        image: uint8 [H, W, 3] in the nets' channel order.
        boxes: float64 [N, 5] stage-1 output (`pnet_stage`).
        net: the loaded RNet.
        cfg: `DetectConfig` (input, rnet).

    Returns:
        float64 [M, 5] ``x1 y1 x2 y2 score`` in kept order; [0, 5] when nothing passes.
    """
    stage = cfg.rnet
    if len(boxes) == 0:
        return _empty()
    prepared = finish(boxes[:, :4], stage.prepare)
    lut = pixel_lut(cfg.input.mean, cfg.input.scale)
    crops, crop_idx = rnet_crops(image, prepared, stage.size, stage.crop, cfg.input.mean, cfg.input.scale, lut)
    if crop_idx.size == 0:
        return _empty()
    scores, offsets = _rnet_outputs(crops, net, cfg)
    # float32 scores against the Python float threshold, as the references compare them.
    passed = np.flatnonzero(scores >= stage.threshold if stage.inclusive else scores > stage.threshold)
    candidates = prepared[crop_idx[passed]]
    cand_scores = scores[passed].astype(np.float64)
    keep = nms(candidates, cand_scores, stage.nms)
    refined = finish(calibrate(candidates[keep], offsets[passed][keep], stage.calibrate_plus_one), stage.finish)
    return np.column_stack([refined, cand_scores[keep]]) if len(keep) else _empty()


def detect_faces(pixels_bgr: np.ndarray, nets: Nets, cfg: DetectConfig) -> DetectResult:
    """Run the cascade on one decoded image.

    Args:
        pixels_bgr: uint8 [H, W, 3], BGR as ``cv2.imread`` decodes (converted to the preset's
            ``input.channel_order`` here, once per image).
        nets: `Nets` from `load_nets` (RNet optional).
        cfg: the `DetectConfig` the nets were loaded with.

    Returns:
        `DetectResult` with float32 [N, 5] boxes per stage; [0, 5] arrays for an image without
        faces (or smaller than one 12-px window at the first scale).

    Raises:
        ValueError: `pixels_bgr` is not uint8 [H, W, 3] (a programmer error).
    """
    if not isinstance(pixels_bgr, np.ndarray) or pixels_bgr.dtype != np.uint8 or pixels_bgr.ndim != 3 \
            or pixels_bgr.shape[2] != 3:
        raise ValueError(f"detect_faces needs uint8 [H, W, 3] pixels, got {getattr(pixels_bgr, 'dtype', None)} "
                         f"{getattr(pixels_bgr, 'shape', None)}")
    if pixels_bgr.shape[0] == 0 or pixels_bgr.shape[1] == 0:
        return DetectResult(_empty().astype(np.float32), None if nets.rnet is None else _empty().astype(np.float32))
    if cfg.input.channel_order == "rgb":
        image = cv2.cvtColor(pixels_bgr, cv2.COLOR_BGR2RGB)
    else:
        image = np.ascontiguousarray(pixels_bgr)
    stage1 = pnet_stage(image, nets.pnet, cfg)
    stage2 = rnet_stage(image, stage1, nets.rnet, cfg) if nets.rnet is not None else None
    return DetectResult(stage1.astype(np.float32), None if stage2 is None else stage2.astype(np.float32))
