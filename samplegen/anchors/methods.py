"""The method table, and one image's labels: input geometry -> priors -> assign -> sample -> encode.

`METHODS` is the only place a method name becomes code: each `Method` entry carries its preset,
config dataclass and the functions of its recipe (`samplegen.anchors.recipes`). Everything else
(the CLI's choices, ``fit-anchors``, ``show``, the tests) enumerates this table, so a new method
is one entry and one recipe module.

`label_image` returns the per-image npz contract as a dict of numpy arrays (A priors, P
positives, G boxes, L levels):

* ``assigned_gt`` int32 [A]: NEGATIVE 0, IGNORE -1, k + 1 = positive on GT k (`labels.py`);
* ``labels`` int32 [A]: the matched GT's class for positives, NO_LABEL -1 otherwise;
* ``max_iou`` float32 [A]: IoU methods only (faster_rcnn, fpn, retinanet, ssd, atss, yolov3; not
  fcos); with ``with_max_iou=False`` replaced by ``pos_max_iou`` float32 [P], its values at
  ``pos_inds`` (cheaper: the assigners may then skip pairs that cannot change the labels);
* ``sampled`` bool [A]: where a sampler runs (RPN / R-CNN random sampler, SSD
  ``neg_mining.sampling: random``);
* ``pos_inds`` int32 [P] (ascending), ``pos_targets`` float32 [P, 4] (deltas, or l/t/r/b for FCOS),
  ``centerness`` float32 [P] (FCOS);
* ``priors_per_level`` int32 [L] (the R-CNN stage has one "level": its G + N rows);
* ``img_shape``, ``pad_shape`` int32 [2] (h, w); ``scale_factor`` float64 [2] (w, h);
* ``gt_boxes`` float32 [G, 4], ``gt_labels`` int32 [G] in network-input pixels;
* ``gt_level`` int32 [G] (fpn): FPN paper RoI level ``floor(4 + log2(sqrt(wh) / 224))`` in [2, 5];
* ``neg_budget`` int32 [] (ssd): the 3:1 hard-negative budget ``min(3 P, A - P)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping

import numpy as np

from samplegen.anchors import geometry as geo
from samplegen.anchors.config import AtssConfig, FcosConfig, GridAnchorConfig, MethodConfig, SsdConfig
from samplegen.anchors.recipes import atss, centernet, fcos, grid, ssd, yolov3, yolov5
from samplegen.config.build import build_dataclass
from samplegen.config.layers import Layered
from samplegen.config.resolve import Resolved, resolve
from samplegen.errors import ConfigError

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Method:
    """A method name's preset, config dataclass and recipe functions.

    Attributes:
        preset: the shipped preset (``anchors/fpn.yaml``).
        config_cls: the dataclass `preset` builds.
        validate: ``(cfg, sources)``; raises `ConfigError` naming the key.
        geometry: ``(cfg, width, height) -> InputGeometry``: how the network sees an image.
        priors: ``(cfg, geometry) -> (priors, priors_per_level)``.
        label: ``(gt_boxes, gt_labels, ignore_boxes, width, height, cfg, rng, proposals,
            with_max_iou) -> arrays``: inputs in original pixels, outputs as the module docstring
            says (without `with_max_iou`, ``max_iou`` need only be exact at the positives).
        fit_space: ``(cfg, FitBoxes, rng) -> FitSpace``: the method's anchor parameters for
            ``fit-anchors`` (`samplegen.anchors.fit_search`), None when the method has nothing
            to fit; `not_fittable` then says why.
        fit_boxes: ``(cfg, gt_boxes, gt_labels, width, height) -> float32 [K, 4]``: GT boxes in
            network pixels where they are not the scaled boxes of `geometry` (YOLOv5's letterbox).
        network_input: ``(cfg, pixels) -> uint8 [H, W, 3]`` where the network input is not the
            image resized and padded bottom/right (YOLOv5's centred letterbox); None otherwise.
    """

    preset: str
    config_cls: type
    validate: Callable[[Any, Mapping[str, str]], None]
    geometry: Callable[[Any, int, int], geo.InputGeometry]
    priors: Callable[[Any, geo.InputGeometry], tuple[np.ndarray, np.ndarray]]
    label: Callable[..., Arrays]
    fit_space: Callable[..., Any] | None = None
    not_fittable: str | None = None
    fit_boxes: Callable[..., np.ndarray] | None = None
    network_input: Callable[[Any, np.ndarray], np.ndarray] | None = None


def _entry(preset: str, config_cls: type, recipe: ModuleType) -> Method:
    return Method(preset, config_cls, recipe.validate, recipe.geometry, recipe.priors, recipe.label,
                  getattr(recipe, "fit_space", None), getattr(recipe, "NOT_FITTABLE", None),
                  getattr(recipe, "fit_boxes", None), getattr(recipe, "network_input", None))


METHODS: dict[str, Method] = {
    "faster_rcnn": _entry("anchors/faster_rcnn.yaml", GridAnchorConfig, grid),
    "fpn": _entry("anchors/fpn.yaml", GridAnchorConfig, grid),
    "retinanet": _entry("anchors/retinanet.yaml", GridAnchorConfig, grid),
    "ssd300": _entry("anchors/ssd300.yaml", SsdConfig, ssd),
    "ssd": _entry("anchors/ssd300.yaml", SsdConfig, ssd),
    "ssd512": _entry("anchors/ssd512.yaml", SsdConfig, ssd),
    "fcos": _entry("anchors/fcos.yaml", FcosConfig, fcos),
    "atss": _entry("anchors/atss.yaml", AtssConfig, atss),
    "yolov3": _entry("anchors/yolov3.yaml", yolov3.Yolov3Config, yolov3),
    "yolov3_416": _entry("anchors/yolov3_416.yaml", yolov3.Yolov3Config, yolov3),
    "yolov5": _entry("anchors/yolov5.yaml", yolov5.Yolov5Config, yolov5),
    "centernet": _entry("anchors/centernet.yaml", centernet.CenterNetConfig, centernet),
}


def method_of(cfg: MethodConfig) -> Method:
    """The table entry of a built config (by its ``method`` key, checked at build time)."""
    return METHODS[cfg.method]


def method_entry(name: str) -> Method:
    spec = METHODS.get(name)
    if spec is None:
        raise ConfigError(f"unknown anchor method '{name}' (known: {', '.join(sorted(METHODS))})")
    return spec


def build_method_config(name: str, layered: Layered | Resolved) -> MethodConfig:
    """The validated config of method `name` from merged values (engine keys ignored)."""
    spec = method_entry(name)
    resolved = layered if isinstance(layered, Resolved) else Resolved(layered)
    cfg = build_dataclass(spec.config_cls, resolved.method_values, resolved.sources)
    if cfg.method not in METHODS or METHODS[cfg.method].config_cls is not spec.config_cls:
        raise ConfigError(f"config {resolved.sources.get('method', '')}: 'method' is {cfg.method!r}, "
                          f"not a method of the {name} preset's kind")
    spec.validate(cfg, resolved.sources)
    return cfg


def anchor_config(method: str, overrides: Mapping[str, Any] | None = None, config_file: str | Path | None = None,
                  environ: Mapping[str, str] | None = None) -> MethodConfig:
    """The validated config of `method`: its preset < `config_file` < ``SAMPLEGEN_*`` < `overrides`.

    Args:
        method: a key of `METHODS` (``"fpn"``).
        overrides: nested or dotted keys (``{"assigner.pos_iou_thr": 0.6}``).
        config_file: a YAML file with the preset's (nested) keys.
        environ: where ``SAMPLEGEN_*`` variables are read; pass ``{}`` to ignore the environment.

    Raises:
        ConfigError: unknown method, unknown key, wrong type or inconsistent values (the message
            names the key and its source).
    """
    resolved = resolve(method_entry(method).preset, config_file=config_file, overrides=overrides, environ=environ)
    return build_method_config(method, resolved)


def input_geometry(cfg: MethodConfig, width: int, height: int) -> geo.InputGeometry:
    """How `cfg`'s network sees an image of ``width x height`` (C.2)."""
    return method_of(cfg).geometry(cfg, width, height)


def geometry_priors(cfg: MethodConfig, g: geo.InputGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Priors float32 [A, 4] (points [A, 2] for fcos) and int32 [L] counts for geometry `g`."""
    return method_of(cfg).priors(cfg, g)


def priors_for(cfg: MethodConfig, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The priors `label_image` uses for an image of ``height x width`` (original pixels).

    Returns:
        priors float32 [A, 4] x1 y1 x2 y2 (FCOS: points float32 [A, 2] x y; with ``compat:
        torchvision`` the centres of torchvision's FCOS anchors) and priors_per_level int32 [L].
    """
    return geometry_priors(cfg, input_geometry(cfg, width, height))


def needs_proposals(cfg: MethodConfig) -> bool:
    """True when the method labels proposals (Faster R-CNN's ``stage: rcnn``), not priors."""
    return getattr(cfg, "stage", None) == "rcnn"


def label_image(gt_boxes: np.ndarray, gt_labels: np.ndarray, ignore_boxes: np.ndarray, width: int,
                height: int, cfg: MethodConfig, rng: np.random.Generator,
                proposals: np.ndarray | None = None, with_max_iou: bool = True) -> Arrays:
    """Label one image exactly as `cfg`'s detector does at training time.

    Args:
        gt_boxes: float32 [G, 4] x1 y1 x2 y2 in original image pixels (crowd / difficult boxes
            excluded); gt_labels: int [G] class ids. With ``input.drop_outside_gt`` boxes that do
            not overlap the image are left out (`gt_boxes.overlaps_image`); the output
            ``gt_boxes`` / ``gt_labels`` and the 1-based indices refer to the kept boxes.
        ignore_boxes: float32 [M, 4] crowd / difficult boxes, original pixels; they act as
            ignore regions only when the assigner's ``ignore_iof_thr > 0`` (otherwise they are
            left out, as in mmdetection's configs).
        width, height: original image size.
        cfg: a method config from `anchor_config`.
        rng: the image's generator (`samplegen.rng.rng_for`); used only by samplers.
        proposals: float32 [N, 4] boxes in original pixels, required for ``stage: rcnn``.
        with_max_iou: return the dense ``max_iou`` [A]; False returns ``pos_max_iou`` [P] instead
            (the rest is identical), which is what ``samplegen anchors`` stores by default.

    Returns:
        The npz contract described in the module docstring.

    Raises:
        ValueError: ``stage: rcnn`` without proposals, or malformed box arrays.
    """
    out = method_of(cfg).label(gt_boxes, gt_labels, ignore_boxes, width, height, cfg, rng, proposals,
                               with_max_iou=with_max_iou)
    if not with_max_iou and "max_iou" in out:
        out["pos_max_iou"] = out.pop("max_iou")[out["pos_inds"]]
    return out
