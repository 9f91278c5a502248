"""Cutting MTCNN shards: decode each image once, cut its chosen crops, write one layout.

Layouts (issue 3), all with the same samples and fields for a given seed:
* ``packed``: ``PREFIX-000000.images.npy`` uint8 [N, S, S, 3] BGR + ``.labels.npz`` columns;
* ``wds``: WebDataset tar, ``KEY.png`` (or ``.jpg``) + ``KEY.json`` per crop;
* ``list``: class folders + ``pos_S.txt``-style lists in one of the dialects of `mtcnn_lists`;
* ``tfrecord``: AITTSMD's TFRecords (`mtcnn_tfrecord`), merged at the end into the files its
  ``train.py`` opens.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from samplegen.engine.task import ShardResult, ShardTask
from samplegen.errors import ConfigError
from samplegen.mtcnn.crop_plan import SAMPLE_COLUMNS, CropPlan, class_counts, empty_plan
from samplegen.mtcnn.cut import cut_crops_sizes
from samplegen.mtcnn.labels import CLASS_NAMES, CLASS_ORDER, LANDMARK, NEG
from samplegen.pipelines.mtcnn_lists import FOLDERS, LIST_STYLES
from samplegen.pipelines.mtcnn_items import LANDMARKS, MtcnnItem
from samplegen.pipelines.pixels import record_pixels
from samplegen.pipelines.mtcnn_tfrecord import SPLITS, TFRecordSink, merge_mtcnn_tfrecords, write_record_list
from samplegen.writers.base import ShardFile, shard_name, temp_path_for
from samplegen.writers.lists import ListShardWriter, concatenate_files, merge_lists
from samplegen.writers.packed import PackedShardWriter
from samplegen.writers.tar import TarShardWriter

LAYOUTS = ("packed", "wds", "list", "tfrecord")
IMAGE_FORMATS = {"png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]),
                 "jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95])}
CHANNEL_ORDER = "bgr"
"""Channel order of every pixel array samplegen's MTCNN layouts store (``packed`` images, the
``tfrecord`` ``image/encoded`` bytes) and of samplegen's readers by default; PNG/JPEG files
(``wds``, ``list``) hold true colours, which OpenCV decodes as BGR and PIL as RGB."""


@dataclass(frozen=True)
class LayoutChoice:
    """The output layout and its options, validated (`choose_layout`)."""

    layout: str
    image_format: str
    list_style: str = "classic"
    tfrecord_split: str = "mixed"
    absolute_paths: bool = False

    def manifest_layout(self) -> str:
        """The manifest's ``layout`` (fingerprinted): ``packed``, ``wds:png``, ``list:png``,
        ``list:jpg:dface``, ``tfrecord:mixed``...; readers split it at ``:``."""
        if self.layout == "packed":
            return "packed"
        if self.layout == "tfrecord":
            return f"tfrecord:{self.tfrecord_split}"
        style = "" if self.layout != "list" or self.list_style == "classic" else f":{self.list_style}"
        return f"{self.layout}:{self.image_format}{style}"

    def config(self) -> dict:
        """Fingerprinted values beyond the layout string (none for today's relative lists)."""
        return {"list_paths": "absolute"} if self.layout == "list" and self.absolute_paths else {}


def choose_layout(layout: str, image_format: str | None = None, list_style: str | None = None,
                  tfrecord_split: str | None = None, relative_paths: bool = False) -> LayoutChoice:
    """Validate a layout and its options; None means the default (``png``, ``classic``, ``mixed``).

    The top-level lists of the ``aittsmd`` and ``dface`` list styles name images by absolute
    path unless `relative_paths`; ``classic`` lists are relative to the output folder.

    Raises:
        ConfigError: an unknown value, an option of another layout, or a format the chosen list
            style's trainer cannot load (DFace needs JPEG).
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    for name, value, owner in (("list_style", list_style, "list"), ("tfrecord_split", tfrecord_split, "tfrecord"),
                               ("relative_paths", relative_paths or None, "list")):
        if value is not None and layout != owner:
            raise ConfigError(f"{name} applies to the {owner} layout, not {layout}")
    style = LIST_STYLES.get(list_style or "classic")
    if style is None:
        raise ConfigError(f"list_style must be one of {sorted(LIST_STYLES)}, got {list_style!r}")
    if tfrecord_split not in (None, *SPLITS):
        raise ConfigError(f"tfrecord_split must be one of {list(SPLITS)}, got {tfrecord_split!r}")
    fmt = image_format or style.image_format or "png"
    if fmt not in IMAGE_FORMATS:
        raise ConfigError(f"image_format must be one of {sorted(IMAGE_FORMATS)}, got {fmt!r}")
    if style.image_format and fmt != style.image_format:
        raise ConfigError(f"list style {style.name} needs {style.image_format} images (its loader appends "
                          f".{style.image_format} to other paths), got {fmt}")
    # classic keeps samplegen's historical bytes (lists relative to the output folder); the
    # trainer dialects name images absolutely so they load from any working directory.
    absolute = layout == "list" and style.name != "classic" and not relative_paths
    return LayoutChoice(layout, fmt, style.name, tfrecord_split or "mixed", absolute)


@dataclass(frozen=True)
class MtcnnJob:
    """Everything a worker needs to cut shards (picklable, no open handles).

    `seed` permutes ``tfrecord`` shards and merges; `tfrecord_split` is ``mixed`` or
    ``per-class``; `list_style` a key of `LIST_STYLES`; `absolute_paths`: the top-level lists
    of the ``list`` layout name images by absolute path. `mark_duplicates`: write each sample's
    copy index as ``dup`` (``packed`` column, ``wds`` JSON field; duplicating balance modes).
    `landmark_plus_one`: landmark rows cut ``side + 1`` pixels (``landmark.cut_plus_one``).
    `siblings`: jobs of other crop sizes cut from the same decode of each image (``--size
    12,24,48``, `samplegen.pipelines.mtcnn_sizes`): their shard files go to their own folders,
    each followed by a `staged_result` record. `follow_symlinks`: read images through symlinks
    that leave their root (`samplegen.pipelines.pixels`).
    """

    out_dir: str
    prefix: str
    layout: str
    size: int
    pad: bool
    image_format: str
    faces_root: str | None
    landmarks_root: str | None
    seed: int = 0
    tfrecord_split: str = "mixed"
    list_style: str = "classic"
    absolute_paths: bool = False
    mark_duplicates: bool = False
    landmark_plus_one: bool = False
    siblings: tuple["MtcnnJob", ...] = ()
    follow_symlinks: bool = False

    @property
    def finalize_reads_shards(self) -> bool:
        """Whether `finalize` joins shard files (``list``, ``tfrecord``): an object-storage output
        downloads them for it; the other layouts skip that (`samplegen.engine.spool`)."""
        return self.layout in ("list", "tfrecord")

    def run_shard(self, task: ShardTask) -> ShardResult:
        # Each image's crops are written as soon as they are cut, so a worker holds one image's
        # pixels at a time however crowded the shard is.
        jobs = (*self.siblings, self)
        sinks: list = []
        sources: list[str] = []
        skipped: list = []
        counts = np.zeros(len(CLASS_ORDER), np.int64)
        try:
            sinks.extend(_open_sink(job, task.index) for job in jobs)
            for item in task.items:
                pixels = self._cut(item, skipped, [job.size for job in jobs])
                if pixels is None:
                    continue
                sources.append(item.record.image)
                copies = item.copies if self.mark_duplicates else None
                for sink, crops in zip(sinks, pixels):
                    sink.add(item.plan, crops, sources, copies)
                counts += class_counts(item.plan)
            files = [sink.commit(sources) for sink in sinks]
        except BaseException:
            for sink in sinks:
                sink.abort()
            raise
        per_class = {CLASS_NAMES[code]: int(n) for code, n in zip(CLASS_ORDER, counts) if n}
        results = [ShardResult(task.index, tuple(f), int(counts.sum()), dict(sorted(per_class.items())),
                               len(task.items), tuple(skipped)) for f in files]
        for job, result in zip(self.siblings, results):
            write_staged_result(Path(job.out_dir), job.prefix, result)
        return results[-1]

    def _cut(self, item: MtcnnItem, skipped: list, sizes: list[int]) -> list[np.ndarray] | None:
        if len(item.plan) == 0:
            return None  # nothing chosen here: do not even decode
        root = self.landmarks_root if item.role == LANDMARKS else self.faces_root
        pixels, reason = record_pixels(item.record, root, self.follow_symlinks)
        if pixels is None:
            skipped.append((item.record.image, reason))
            return None
        return cut_crops_sizes(pixels, item.plan, sizes, self.pad, self.landmark_plus_one)

    def finalize(self, out_dir: Path, shards: Sequence[ShardResult]) -> list[ShardFile]:
        """The files a trainer opens, joined from the shards: lists (``list``) or the merged
        TFRecords and their line-count list (``tfrecord``)."""
        stems = [shard_name(self.prefix, s.index, "") for s in shards]
        if self.layout == "tfrecord":
            merged = merge_mtcnn_tfrecords(out_dir, stems, self.size, self.tfrecord_split, self.seed)
            return merged + [write_record_list(out_dir, [f.name for f in merged], self.size)]
        if self.layout != "list":
            return []
        style = LIST_STYLES[self.list_style]
        names = style.list_names(self.size)
        prefix = Path(out_dir).resolve().as_posix() + "/" if self.absolute_paths else ""
        written = merge_lists(out_dir, stems, list(names.values()), prefix)
        if style.merged:
            written.append(concatenate_files(out_dir, [names[code] for code in style.merged_order],
                                             style.merged_name(self.size)))
        return written


def staged_result_path(folder: Path, prefix: str, index: int) -> Path:
    """Where a sibling job records a committed shard (`write_staged_result`)."""
    return Path(folder) / (shard_name(prefix, index, "") + ".result.json")


def write_staged_result(folder: Path, prefix: str, result: ShardResult) -> None:
    """Record `result` beside the shard files a sibling job committed, atomically (its files are
    complete once this record exists)."""
    target = staged_result_path(folder, prefix, result.index)
    temp = temp_path_for(target)   # unique across hosts and attempts
    temp.write_text(json.dumps(result.as_json()))
    os.replace(temp, target)


def plan_columns(plan: CropPlan, source: np.ndarray, copies: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The per-crop fields written by every layout, plus `source` (index into the shard's images)
    and, for duplicating balance modes, ``dup`` (`MtcnnItem.copies`)."""
    columns = {name: getattr(plan, name) for name in SAMPLE_COLUMNS} | {"source": source}
    return columns if copies is None else columns | {"dup": np.asarray(copies, np.int32)}


def sample_json(columns: dict[str, np.ndarray], row: int, sources: list[str]) -> bytes:
    """The ``KEY.json`` of one crop: the packed fields, ``label`` by name, ``source`` as a path."""
    code = int(columns["cls"][row])
    data = {
        "label": CLASS_NAMES[code], "cls": code,
        "roi": columns["roi"][row].tolist() if code != NEG else None,
        "landmark": columns["landmark"][row].tolist() if code == LANDMARK else None,
        "crop": columns["crop"][row].tolist(), "angle": float(columns["angle"][row]),
        "mirror": bool(columns["mirror"][row]), "iou": float(columns["iou"][row]),
        "gt": int(columns["gt"][row]), "source": sources[int(columns["source"][row])],
    }
    if "dup" in columns:
        data["dup"] = int(columns["dup"][row])
    return json.dumps(data, separators=(",", ":")).encode()


class _PackedSink:
    """``packed``: crops and their columns, image by image; ``sources`` stored on commit."""

    def __init__(self, job: MtcnnJob, index: int) -> None:
        self.writer = PackedShardWriter(Path(job.out_dir), shard_name(job.prefix, index, ""),
                                        (job.size, job.size, 3))
        self.copies = np.zeros(0, np.int32) if job.mark_duplicates else None

    def add(self, plan: CropPlan, crops: np.ndarray, sources: list[str], copies: np.ndarray | None = None) -> None:
        self.writer.add_batch(crops, plan_columns(plan, np.full(len(plan), len(sources) - 1, np.int32), copies))

    def commit(self, sources: list[str]) -> list[ShardFile]:
        return self.writer.commit(extra={"sources": np.array(sources, dtype=str)},
                                  empty_columns=plan_columns(empty_plan(), np.zeros(0, np.int32), self.copies))

    def abort(self) -> None:
        self.writer.abort()


class _EncodedSink:
    """``wds`` / ``list``: one encoded image per crop, numbered by its row in the shard."""

    def __init__(self, job: MtcnnJob, index: int) -> None:
        self.job, self.index, self.rows = job, index, 0
        self.ext, self.params = IMAGE_FORMATS[job.image_format]
        self.tar = job.layout == "wds"
        self.style = LIST_STYLES[job.list_style]
        self.list_names = self.style.list_names(job.size)
        root = Path(job.out_dir)
        self.writer = (TarShardWriter(root, shard_name(job.prefix, index, ".tar")) if self.tar
                       else ListShardWriter(root, shard_name(job.prefix, index, "")))

    def add(self, plan: CropPlan, crops: np.ndarray, sources: list[str], copies: np.ndarray | None = None) -> None:
        columns = plan_columns(plan, np.full(len(plan), len(sources) - 1, np.int32), copies)
        for k in range(len(plan)):
            row = self.rows + k
            encoded = cv2.imencode(self.ext, crops[k], self.params)[1].tobytes()
            if self.tar:
                self.writer.add(f"{self.index:06d}_{row:06d}", {self.ext[1:]: encoded,
                                                                "json": sample_json(columns, k, sources)})
            else:
                code = int(plan.cls[k])
                self.writer.add(self.list_names[code], f"{FOLDERS[code]}/{row:06d}{self.ext}", encoded,
                                self.style.line_fields(plan, k))
        self.rows += len(plan)

    def commit(self, sources: list[str]) -> list[ShardFile]:
        return self.writer.commit() if self.tar else self.writer.commit(list(self.list_names.values()))

    def abort(self) -> None:
        self.writer.abort()


def _open_sink(job: MtcnnJob, index: int) -> _PackedSink | _EncodedSink | TFRecordSink:
    if job.layout == "packed":
        return _PackedSink(job, index)
    if job.layout == "tfrecord":
        return TFRecordSink(Path(job.out_dir), shard_name(job.prefix, index, ""), job.tfrecord_split, job.seed)
    return _EncodedSink(job, index)
