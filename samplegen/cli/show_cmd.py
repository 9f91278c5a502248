"""``samplegen show mtcnn|anchors``: PNG pictures of what a run wrote or would write.

The edges live here (reading outputs, annotations and images, writing the PNG); the drawing is
`samplegen.render`. Each command prints one JSON object describing the picture.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import click
import cv2
import numpy as np

from samplegen import embedded
from samplegen.anchors.config import METHODS, MethodConfig, config_keys, load_method_config
from samplegen.anchors.methods import label_image, priors_for
from samplegen.cli import cli
from samplegen.cli.options import EngineOptions, format_option, resolve_anchor_config
from samplegen.cli.output import print_json
from samplegen.datasets import read_dataset
from samplegen.engine.images import image_path, load_image
from samplegen.engine.manifest import read_manifest
from samplegen.errors import ConfigError, InputError
from samplegen.jobs.anchors_job import image_counts, network_input
from samplegen.mtcnn.labels import CLASS_CODES
from samplegen.outputs import read_anchors, read_mtcnn
from samplegen.record import Record
from samplegen.render import draw
from samplegen.render.anchor_panels import anchor_panels, crop_region, gt_region, tile_panels
from samplegen.render.sheet import SheetLayout, contact_sheet, select_sections
from samplegen.rng import rng_for

TARGET_TILE = 96  # default tile side: crops enlarged by the integer factor closest to this
MARGIN_DIVISOR = 6  # each crop sits in a background band of tile / 6 px (boxes leaving the crop)


@cli.group("show")
def show_group() -> None:
    """Draw PNG pictures of samples: MTCNN contact sheets, anchor / point assignments."""


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise ConfigError(f"{path}: could not write the PNG (is the extension .png?)")


# ---------------------------------------------------------------------------- show mtcnn

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


@show_group.command("mtcnn")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "picture", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write.")
@click.option("--per-class", type=click.IntRange(min=0), default=32, show_default=True,
              help="Tiles per class: the first N samples of each class in output order.")
@click.option("--scale", type=click.IntRange(min=1), help="Enlarge factor of the crops [closest to 96 px tiles].")
@click.option("--columns", type=click.IntRange(min=1), default=16, show_default=True, help="Tiles per row.")
@click.option("--linear", is_flag=True, help="Bilinear enlarging instead of nearest neighbour.")
def show_mtcnn(out_dir: Path, picture: Path, per_class: int, scale: int | None, columns: int,
               linear: bool) -> None:
    """Contact sheet of a `samplegen mtcnn` output: pos, part, neg, landmark sections.

    Each tile is the crop enlarged, its regression box (green), landmarks (red) and IoU.
    """
    sections = select_sections(read_mtcnn(out_dir), per_class, mtcnn_totals(out_dir))
    first = next((s.samples[0] for s in sections if s.samples), None)
    side = int(first["image"].shape[0]) if first is not None else TARGET_TILE
    tile = side * (scale or max(1, round(TARGET_TILE / side)))
    layout = SheetLayout(tile=tile, columns=columns, margin=tile // MARGIN_DIVISOR)
    sheet = contact_sheet(sections, layout, nearest=not linear)
    write_png(picture, sheet)
    print_json({"command": "show mtcnn", "out": str(picture), "width": sheet.shape[1],
                "height": sheet.shape[0], "tile": tile, "margin": layout.margin,
                "tiles": {s.name: len(s.samples) for s in sections},
                "totals": {s.name: s.total for s in sections}})


# --------------------------------------------------------------------------- show anchors

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


def find_record(records: list[Record], key: str | None, annotations: Path) -> Record:
    """The record whose key or image path (as written) is `key`; the first by key when None."""
    ordered = sorted(records, key=lambda r: r.key)
    if not ordered:
        raise InputError(annotations, None, "no images in the annotations")
    if key is None:
        return ordered[0]
    for record in ordered:
        if key in (record.key, record.image):
            return record
    known = ", ".join(r.key for r in ordered[:5])
    raise ConfigError(f"--image {key!r}: no such image key or path in {annotations} (first keys: {known})")


def refuse_rcnn(cfg: MethodConfig) -> None:
    if getattr(cfg, "stage", None) == "rcnn":
        raise ConfigError("show anchors draws anchor priors; --stage rcnn labels proposals, not priors")


def direct_view(cfg: MethodConfig, seed: int, annotations: Path, format_name: str, images: Path | None,
                key: str | None, with_image: bool) -> AnchorView:
    """Label the image `key` of `annotations` exactly like the anchors job (seed, rng per key)."""
    refuse_rcnn(cfg)
    record = find_record(list(read_dataset(format_name, annotations, images).records), key, annotations)
    pixels = None
    if with_image or record.width is None or record.height is None:
        path = image_path(str(images) if images else None, record.image)
        pixels, reason = load_image(path)
        if pixels is None:
            raise InputError(path, None, f"image {reason}")
    width = record.width if record.width is not None else pixels.shape[1]
    height = record.height if record.height is not None else pixels.shape[0]
    arrays = label_image(record.boxes, record.labels, record.ignore, width, height, cfg,
                         rng_for(seed, record.key))
    canvas = network_input(pixels, cfg) if with_image else grey_canvas(arrays)
    return AnchorView(record.key, canvas, arrays, priors_for(cfg, height, width)[0], cfg)


def output_config(out_dir: Path) -> MethodConfig:
    """The method config an anchors output was written with (its manifest's resolved values)."""
    manifest = read_manifest(out_dir)
    if manifest is None or manifest.get("command") != "anchors":
        raise ConfigError(f"{out_dir}: no samplegen anchors output (manifest.json missing or of another command)")
    values = manifest["config"]
    method = values.get("method")
    if method not in METHODS:
        raise ConfigError(f"{out_dir}/manifest.json: unknown method {method!r}")
    keys = config_keys(method)
    cfg, _ = load_method_config(method, {k: v for k, v in values.items() if k in keys},
                                f"file:{out_dir}/manifest.json")
    return cfg


def output_view(out_dir: Path, key: str | None, with_image: bool) -> AnchorView:
    """The sample `key` (sample key or source image path; first sample when None) of an output."""
    cfg = output_config(out_dir)
    refuse_rcnn(cfg)
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
    with `zoom`, every panel shows only the GTs' surroundings (`gt_region` with margin `zoom`)."""
    canvas, arrays, priors = view.canvas, view.arrays, view.priors
    if zoom is not None:
        region = gt_region(arrays["gt_boxes"], canvas.shape[:2], zoom)
        canvas, arrays, priors = crop_region(canvas, arrays, priors, region)
    canvas = draw.dim(canvas, dim) if dim > 0 else canvas
    scale = panel_size / max(canvas.shape[:2])
    panels = anchor_panels(canvas, arrays, priors, view.cfg.strides, scale)
    return tile_panels(panels, columns), len(panels)


def _method_cfg(method: str, seed: int | None, config_file: Path | None,
                overrides: Mapping[str, Any]) -> tuple[MethodConfig, int]:
    # The same layering as `samplegen anchors` (preset < --config < SAMPLEGEN_* < options), so
    # the picture shows what that command writes.
    engine = EngineOptions(None, None, seed, None, None, False, False, False, config_file)
    cfg, _, engine_values, _ = resolve_anchor_config(method, engine, overrides)
    return cfg, int(engine_values["seed"])


@show_group.command("anchors")
@click.option("--method", type=click.Choice(sorted(METHODS)), help="Anchor method (not with --from).")
@click.option("--annotations", type=click.Path(path_type=Path), help="Annotations [embedded sample].")
@format_option(default="coco", show_default=True, help="Format of --annotations.")
@click.option("--images", type=click.Path(file_okay=False, path_type=Path), help="Image root.")
@click.option("--from", "from_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Draw a sample of this `samplegen anchors` output instead.")
@click.option("--image", "key", help="Image key or path as written (with --from: sample key or source) [first].")
@click.option("--out", "picture", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="PNG to write.")
@click.option("--seed", type=int, help="Base random seed of the samplers [0].")
@click.option("--compat", type=click.Choice(["mmdet", "torchvision"]), help="Reference semantics [mmdet].")
@click.option("--neg-sampling", type=click.Choice(["none", "random"]), help="SSD negative sampling.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              help="YAML file overriding the preset.")
@click.option("--no-image", is_flag=True, help="Draw on a grey canvas instead of the network input.")
@click.option("--panel-size", type=click.IntRange(min=32), default=512, show_default=True,
              help="Longer side of each level panel, in pixels.")
@click.option("--columns", type=click.IntRange(min=1), default=3, show_default=True, help="Panels per row.")
@click.option("--dim", type=click.FloatRange(0, 1), default=0.4, show_default=True,
              help="Fade the image towards dark grey so the drawings stand out.")
@click.option("--zoom", type=click.FloatRange(min=0), metavar="MARGIN",
              help="Show only the GT boxes' surroundings: their union grown by MARGIN x its size per side.")
def show_anchors(method: str | None, annotations: Path | None, format_name: str, images: Path | None,
                 from_dir: Path | None, key: str | None, picture: Path, seed: int | None,
                 compat: str | None, neg_sampling: str | None, config_file: Path | None,
                 no_image: bool, panel_size: int, columns: int, dim: float, zoom: float | None) -> None:
    """One image's priors as the method labels them, one panel per pyramid level.

    GT boxes thick, positive priors in their GT's colour, ignored priors grey, sampled negatives
    as faint cyan dots; FCOS: positive points per level and a centerness heat map. With no
    --annotations, the embedded sample.
    """
    if from_dir is not None:
        given = [name for name, value in (("--method", method), ("--annotations", annotations),
                                          ("--images", images), ("--seed", seed), ("--compat", compat),
                                          ("--neg-sampling", neg_sampling), ("--config", config_file))
                 if value is not None]
        if given:
            raise click.UsageError(f"--from reads the method and seed from the output; drop {', '.join(given)}")
        view = output_view(from_dir, key, not no_image)
        method_name = view.cfg.method
    else:
        if method is None:
            raise click.UsageError("give --method (or --from OUT_DIR)")
        if annotations is None:
            annotations, format_name, images = embedded.COCO, "coco", embedded.ROOT
        overrides = {"compat": compat, "neg_sampling": neg_sampling}
        cfg, seed = _method_cfg(method, seed, config_file, overrides)
        view = direct_view(cfg, seed, annotations, format_name, images, key, not no_image)
        method_name = method
    image, num_panels = render_view(view, panel_size, columns, dim, zoom)
    write_png(picture, image)
    print_json({"command": "show anchors", "out": str(picture), "method": method_name, "image": view.key,
                "panels": num_panels, "width": image.shape[1], "height": image.shape[0],
                "counts": image_counts(view.arrays)})


