"""The network input each method trains on (``--with-images``, ``show anchors``): bottom/right
padding for mmdet's pipelines, YOLOv5's centred letterbox (checked against yolov5 7.0.14's
``LoadImagesAndLabels(augment=False)`` when written: bit-identical on three COCO128 images and
the astronaut photo; here its properties on real COCO128 pixels)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from samplegen.anchors.methods import anchor_config
from samplegen.anchors.recipes.yolov5 import LETTERBOX_FILL, letterbox_geometry
from samplegen.pipelines.anchor_shards import network_input


@pytest.mark.parametrize("name", ["000000000009.jpg", "000000000025.jpg", "000000000061.jpg"])
def test_yolov5_letterbox_is_centred_on_grey(shared_data, name):
    pixels = cv2.imread(str(shared_data / "coco128/images/train2017" / name))
    cfg = anchor_config("yolov5", environ={})
    out = network_input(pixels, cfg)
    lb = letterbox_geometry(cfg, pixels.shape[1], pixels.shape[0])
    new_h, new_w = lb.geometry.img_shape
    top, left = int(round(lb.pad[1] - 0.1)), int(round(lb.pad[0] - 0.1))
    assert out.shape == (640, 640, 3) and out.dtype == np.uint8
    assert (out[:top] == LETTERBOX_FILL).all() and (out[top + new_h:] == LETTERBOX_FILL).all()
    assert (out[:, :left] == LETTERBOX_FILL).all() and (out[:, left + new_w:] == LETTERBOX_FILL).all()
    content = out[top:top + new_h, left:left + new_w].astype(np.float64)
    resized = cv2.resize(pixels, (new_w, new_h), interpolation=cv2.INTER_AREA).astype(np.float64)
    assert np.abs(content - resized).mean() < 2.0, "not the image, shrunk into the letterbox"


def test_mmdet_inputs_are_padded_bottom_right(shared_data):
    pixels = cv2.imread(str(shared_data / "coco128/images/train2017/000000000009.jpg"))     # 640 x 480
    out = network_input(pixels, anchor_config("fpn", environ={}))
    assert out.shape == (800, 1088, 3) and (out[:, 1067:] == 0).all()
