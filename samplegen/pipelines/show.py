"""`show_mtcnn` and `show_anchors`: pictures of what a run wrote or would write, as PNG files.

The edges live here (reading outputs, annotations and images, writing the PNG); the drawing is
`samplegen.render`. Each function returns the JSON object the CLI prints.
"""
from __future__ import annotations

import difflib
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import cv2
import numpy as np

from samplegen import embedded
from samplegen.anchors.config import MethodConfig
from samplegen.anchors.labels import count_labels
from samplegen.anchors.methods import label_image, needs_proposals, priors_for
from samplegen.datasets.coco import coco_image_ids
from samplegen.datasets.paths import image_file
from samplegen.engine.manifest import read_manifest
from samplegen.errors import ConfigError, InputError
from samplegen.locations import local_or_remote
from samplegen.mtcnn.labels import CLASS_CODES
from samplegen.outputs.anchors import output_method_config, read_anchors
from samplegen.outputs.mtcnn import read_mtcnn
from samplegen.outputs.shards import output_folder
from samplegen.pipelines.anchor_shards import network_input
from samplegen.pipelines.anchors import resolve_method
from samplegen.pipelines.inputs import Inputs
from samplegen.pipelines.options import run_options
from samplegen.pipelines.pixels import record_pixels
from samplegen.record import Record
from samplegen.render import draw
from samplegen.render.anchor_panels import (
    STYLE, anchor_panels, crop_region, dense_heatmap, gt_region, legend_kinds, tile_panels,
)
from samplegen.render.legend import legend_strip
from samplegen.render.sheet import SheetLayout, contact_sheet, select_sections
from samplegen.rng import rng_for

TARGET_TILE = 96  # default tile side: crops enlarged by the integer factor closest to this
MARGIN_DIVISOR = 6  # each crop sits in a background band of tile / 6 px (boxes leaving the crop)


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise ConfigError(f"{path}: could not write the PNG (is the extension .png?)")


# ---------------------------------------------------------------------------------- mtcnn sheet

def mtcnn_totals(out_dir: Path) -> dict[int, int] | None:
    """Class code -> samples of that class in the output's complete shards (from the manifest)."""
    manifest = read_manifest(out_dir)
    if manifest is None or manifest.get("command") != "mtcnn":
        return None
    totals = {code: 0 for code in CLASS_CODES.values()}
    for shard in manifest.get("shards", []):
        for name, count in shard.get("counts", {}).items():
            totals[CLASS_CODES[name]] += int(count)
    return totals


def show_mtcnn(out_dir: str | Path, picture: str | Path, per_class: int = 32, scale: int | None = None,
               columns: int = 16, linear: bool = False) -> dict[str, Any]:
    """Contact sheet of a `samplegen mtcnn` output: pos, part, neg, landmark sections.

    Each tile is the crop enlarged by `scale` (default: the whole factor closest to 96 px tiles),
    its regression box (green), landmarks (red) and IoU; the first `per_class` samples per class.
    """
    out_dir, picture = output_folder(out_dir), Path(picture)
    sections = select_sections(read_mtcnn(out_dir), per_class, mtcnn_totals(out_dir))
    first = next((s.samples[0] for s in sections if s.samples), None)
    side = int(first["image"].shape[0]) if first is not None else TARGET_TILE
    tile = side * (scale or max(1, round(TARGET_TILE / side)))
    layout = SheetLayout(tile=tile, columns=columns, margin=tile // MARGIN_DIVISOR)
    sheet = contact_sheet(sections, layout, nearest=not linear)
    write_png(picture, sheet)
    return {"command": "show mtcnn", "out": str(picture), "width": sheet.shape[1], "height": sheet.shape[0],
            "tile": tile, "margin": layout.margin, "tiles": {s.name: len(s.samples) for s in sections},
            "totals": {s.name: s.total for s in sections}}


# ------------------------------------------------------------------------------- anchor panels

@dataclass(frozen=True, eq=False)
class AnchorView:
    """What an anchors picture is drawn from: the canvas (network input, or grey of pad_shape),
    the `label_image` arrays, the priors in the same order and the method config."""

    key: str
    canvas: np.ndarray
    arrays: Mapping[str, np.ndarray]
    priors: np.ndarray
    cfg: MethodConfig


def grey_canvas(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    h, w = (int(v) for v in arrays["pad_shape"])
    return draw.blank(h, w, draw.CANVAS_GREY)


def image_names(written: str) -> tuple[str, str, str]:
    """The shorter names an image answers to in ``--image``: its key without the extension, its
    file name, and its file name without the extension (``000000000009`` for ``000000000009.jpg``)."""
    key = written.replace("\\", "/")
    base = key.rsplit("/", 1)[-1]
    return posixpath.splitext(key)[0], base, posixpath.splitext(base)[0]


def find_record(records: list[Record], key: str | None, annotations: str | Path,
                ids: Callable[[], Mapping[str, str]] | None = None) -> Record:
    """The record `key` names; the first by key when None.

    `key` is tried as, in order: the record key or the image path as written; a shorter name of
    `image_names` (the stem, the file name) when exactly one record has it; the dataset's own id
    through `ids` (``str(id) -> key``, e.g. COCO's ``9``).

    Raises:
        InputError: no records. ConfigError: `key` names no record, or several by a short name.
    """
    ordered = sorted(records, key=lambda r: r.key)
    if not ordered:
        raise InputError(annotations, None, "no images in the annotations")
    if key is None:
        return ordered[0]
    for record in ordered:
        if key in (record.key, record.image):
            return record
    named = [r for r in ordered if key in image_names(r.key)]
    if len(named) == 1:
        return named[0]
    if named:
        shown = ", ".join(repr(r.key) for r in named[:3])
        raise ConfigError(f"--image {key!r} is ambiguous in {annotations}: {len(named)} images are named so "
                          f"({shown}{', ...' if len(named) > 3 else ''}); give the whole key")
    by_id = ids() if ids is not None else {}
    if key in by_id or key.lstrip("0") in by_id:
        wanted = by_id.get(key, by_id.get(key.lstrip("0")))
        for record in ordered:
            if record.key == wanted:
                return record
    nearest = difflib.get_close_matches(key, [r.key for r in ordered], n=1, cutoff=0.0)
    hint = f"; nearest key: {nearest[0]!r}" if nearest else ""
    raise ConfigError(f"--image {key!r}: no image of {annotations} has this key, path, file name"
                      f"{' or id' if ids is not None else ''}{hint}")


def _refuse_proposals(cfg: MethodConfig) -> None:
    if needs_proposals(cfg):
        raise ConfigError("show anchors draws anchor priors; --stage rcnn labels proposals, not priors")


def direct_view(cfg: MethodConfig, seed: int, annotations: str | Path, format_name: str, images: str | Path | None,
                key: str | None, with_image: bool, follow_symlinks: bool = False,
                allow_drops: bool = False) -> AnchorView:
    """Label the image `key` of `annotations` exactly like the anchors job (seed, rng per key,
    the image checked as the job checks it: size against the annotation, pixel cap, symlinks)."""
    _refuse_proposals(cfg)
    with Inputs() as sources:
        dataset = sources.dataset(format_name, annotations, images, allow_drops=allow_drops, sizes_from="--images")
        local = sources.local(annotations)
        ids = (lambda: coco_image_ids(local)) if dataset.format == "coco" else None
        record = find_record(list(dataset.records), key, annotations, ids)
    root = local_or_remote(images) if images is not None else None
    pixels = None
    if with_image or record.width is None or record.height is None:
        pixels, reason = record_pixels(record, root, follow_symlinks)
        if pixels is None:
            raise InputError(image_file(root, record), None, f"image {reason}")
    width = record.width if record.width is not None else pixels.shape[1]
    height = record.height if record.height is not None else pixels.shape[0]
    arrays = label_image(record.boxes, record.labels, record.ignore, width, height, cfg,
                         rng_for(seed, record.key))
    canvas = network_input(pixels, cfg) if with_image else grey_canvas(arrays)
    return AnchorView(record.key, canvas, arrays, priors_for(cfg, height, width)[0], cfg)


def output_view(out_dir: Path, key: str | None, with_image: bool) -> AnchorView:
    """The sample `key` (sample key or source image path; first sample when None) of an output."""
    cfg = output_method_config(out_dir)
    _refuse_proposals(cfg)
    for sample in read_anchors(out_dir):
        if key is None or key in (sample["key"], sample["meta"]["source"]):
            break
    else:
        raise ConfigError(f"--image {key!r}: no such sample key or source image in {out_dir}")
    meta = sample["meta"]
    canvas = sample["image"] if with_image and "image" in sample else grey_canvas(sample)
    priors, _ = priors_for(cfg, int(meta["height"]), int(meta["width"]))
    arrays = {k: v for k, v in sample.items() if isinstance(v, np.ndarray) and k != "image"}
    return AnchorView(sample["key"], canvas, arrays, priors, cfg)


def render_view(view: AnchorView, panel_size: int, columns: int, dim: float,
                zoom: float | None = None) -> tuple[np.ndarray, int]:
    """The tiled picture of `view` and its number of panels; the longer panel side is `panel_size`;
    with `zoom`, every panel shows only the GTs' surroundings (`gt_region` with margin `zoom`).
    A legend strip under the panels names every kind of mark they draw."""
    canvas, arrays, priors = view.canvas, view.arrays, view.priors
    if "heatmap_peaks" in arrays:  # CenterNet stores peaks + radii; the panel shows the dense map
        arrays = {**arrays, "heatmap": dense_heatmap(arrays, view.cfg.strides[0])}
    if zoom is not None:
        region = gt_region(arrays["gt_boxes"], canvas.shape[:2], zoom)
        canvas, arrays, priors = crop_region(canvas, arrays, priors, region)
    canvas = draw.dim(canvas, dim) if dim > 0 else canvas
    scale = panel_size / max(canvas.shape[:2])
    panels = anchor_panels(canvas, arrays, priors, view.cfg.strides, scale)
    grid = tile_panels(panels, columns)
    key = legend_strip(grid.shape[1], legend_kinds(arrays, priors), STYLE)
    return np.concatenate([grid, key], axis=0), len(panels)


def show_anchors(picture: str | Path, method: str | None = None, *, annotations: str | Path | None = None,
                 format: str = "auto", images: str | Path | None = None, from_dir: str | Path | None = None,
                 key: str | None = None, seed: int | None = None, compat: str | None = None,
                 neg_sampling: str | None = None, config: str | Path | None = None,
                 overrides: Mapping[str, Any] | None = None, with_image: bool = True, panel_size: int = 512,
                 columns: int = 3, dim: float = 0.4, zoom: float | None = None,
                 follow_symlinks: bool = False, allow_drops: bool = False) -> dict[str, Any]:
    """One image's priors as the method labels them, one panel per pyramid level, as a PNG.

    Either `method` (labelled now, with the same layering as ``samplegen anchors``, so the picture
    shows what that command writes) or `from_dir` (a sample of an anchors output, its config
    read from the manifest).
    """
    if from_dir is not None:
        view = output_view(Path(from_dir), key, with_image)
        method_name = view.cfg.method
    else:
        if method is None:
            raise ConfigError("give a method (or an output folder to draw from)")
        if annotations is None:
            annotations, format, images = embedded.COCO, "coco", embedded.ROOT
        options = run_options(seed=seed, config=config, overrides=overrides or {})
        explicit = {"compat": compat, "neg_mining": {"sampling": neg_sampling} if neg_sampling else None}
        cfg, resolved = resolve_method(method, options, explicit)
        view = direct_view(cfg, resolved.engine().seed, annotations, format, images, key, with_image,
                           follow_symlinks, allow_drops)
        method_name = method
    image, num_panels = render_view(view, panel_size, columns, dim, zoom)
    write_png(Path(picture), image)
    return {"command": "show anchors", "out": str(picture), "method": method_name, "image": view.key,
            "panels": num_panels, "width": image.shape[1], "height": image.shape[0],
            "counts": count_labels(view.arrays)}
