"""Annotation readers: one module per format, each ``read_<format>(path, images_root) -> Dataset``.

`READERS` is the only table from a format name (as written in YAML or on the command line) to
its reader; below it, code calls the reader functions directly. Every reader returns the records
in file order (YOLO: sorted image order), builds each with `check_record`, and reports every
malformation as ``InputError(path, line, message)``.

`read_dataset` is the front door the commands use. Around the reader it

* resolves ``auto`` by `samplegen.datasets.sniff.sniff` (a file whose layout it cannot tell is an
  error asking for ``--format``, never a guess);
* adds to a reader's error what the file looks like when that is another format ("this looks like
  COCO instances JSON: use --format coco"), and keeps every message short;
* refuses a dataset without images, warns about (or refuses) a large share of dropped boxes, and
  refuses an images root holding none of the images (`samplegen.datasets.checks`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

from samplegen.datasets import checks
from samplegen.datasets.celeba import read_celeba
from samplegen.datasets.coco import read_coco
from samplegen.datasets.detections import read_detections
from samplegen.datasets.facepoints import read_facepoints
from samplegen.datasets.lines import check_path_text
from samplegen.datasets.paths import RemoteRoot
from samplegen.datasets.sniff import Guess, sniff
from samplegen.datasets.voc import read_voc
from samplegen.datasets.wider import read_wider
from samplegen.datasets.wider_colmajor import read_wider_colmajor
from samplegen.datasets.wider_lines import read_wider_lines
from samplegen.datasets.yolo import read_yolo
from samplegen.errors import ConfigError, InputError
from samplegen.record import Dataset

Reader = Callable[[Path, "Path | None"], Dataset]
AUTO = "auto"
MAX_MESSAGE = 400  # a reader's message longer than this is cut (the hint is added after)


def _has_text(path: Path) -> bool:
    """Whether the file holds anything but whitespace (the first 64 KB suffice to tell)."""
    with open(path, "rb") as handle:
        return bool(handle.read(1 << 16).strip())


def read_auto(path: Path, images_root: Path | None) -> Dataset:
    """Read `path` with the reader `sniff` names; InputError when it cannot tell."""
    guess = sniff(path)
    if guess is None and path.is_file() and not _has_text(path):
        raise InputError(path, None, "no images: the file is empty")
    if guess is None:
        raise InputError(path, None, "cannot tell the annotation format from the first lines; give --format "
                                     f"({', '.join(name for name in READERS if name != AUTO)})")
    if guess.format is None:
        raise InputError(path, None, f"{guess.hint()}")
    return READERS[guess.format](guess.path or path, images_root)


READERS: dict[str, Reader] = {
    "wider": read_wider,
    "wider-lines": read_wider_lines,
    "wider-colmajor": read_wider_colmajor,
    "coco": read_coco,
    "voc": read_voc,
    "yolo": read_yolo,
    "facepoints": read_facepoints,
    "celeba": read_celeba,
    AUTO: read_auto,
}


def read_dataset(format: str, path: str | Path, images_root: str | Path | None = None, *,
                 allow_drops: bool = False, sizes_from: str | None = None, shown_as: str | None = None) -> Dataset:
    """Read `path` with the reader named `format` (``auto``: the one `sniff` names) and check it.

    Args:
        format: a key of `READERS`.
        path: the annotation file (or folder, for voc / yolo / celeba).
        images_root: the folder the annotation's image paths are relative to, or None.
        allow_drops: read a file whose reader drops more than `checks.REFUSE_SHARE` of its boxes
            (``--allow-drops``); the warning is still printed.
        sizes_from: for a command that needs every image's size: the option that names the
            images folder (``--images``); without a folder, a file lacking sizes is refused.
        shown_as: the name warnings, `Dataset.source` and `meta` give `path` (the URL of an
            annotation read from a local copy; `samplegen.pipelines.inputs.Inputs`, which made
            the copy, names the URL in the errors).

    Raises:
        ConfigError: `format` is not a key of `READERS`.
        InputError: `path` does not exist; `images_root` is given but is not a folder, or holds
            none of the images (both ignored for yolo, whose images are found through its layout);
            the reader found a malformed annotation (with what the file looks like when it is
            another format); the file holds no image; too many boxes were dropped; with
            `sizes_from` and no `images_root`, images without a size.
    """
    reader = READERS.get(format)
    if reader is None:
        raise ConfigError(f"unknown annotation format {format!r}; known: {', '.join(READERS)}")
    path = Path(path)
    check_path_text(path)
    if not path.exists():
        raise InputError(path, None, "no such file")
    remote = isinstance(images_root, RemoteRoot)   # checked by the caller (pipelines.inputs)
    root = None if images_root is None else images_root if remote else Path(images_root)
    uses_root = root is not None and format != "yolo"
    if uses_root and not remote:
        check_path_text(root)
        # A mistyped images folder would otherwise only show up as every image "missing" later.
        if not root.is_dir():
            raise InputError(root, None, "images root is not a folder")
    try:
        dataset = reader(path, root)
    except InputError as exc:
        raise _with_hint(exc, format, path) from None
    if shown_as is not None:
        # Paths into the copy (CelebA's landmark file in `meta`) are named as the user gave them.
        meta = {k: v.replace(str(path), shown_as) if isinstance(v, str) else v for k, v in dataset.meta.items()}
        dataset = dataclasses.replace(dataset, source=shown_as, meta=meta)
    guess = _cached_sniff(path)
    checks.check_not_empty(dataset)
    checks.check_drops(dataset, allow_drops, guess)
    if uses_root and not remote and dataset.format != "yolo":
        checks.check_images_present(dataset, root)
    if sizes_from is not None and root is None:
        checks.check_sizes_known(dataset, sizes_from)
    return dataset


def _cached_sniff(path: Path) -> Callable[[], Guess | None]:
    found: list[Guess | None] = []

    def guess() -> Guess | None:
        if not found:
            found.append(sniff(path))
        return found[0]
    return guess


def _with_hint(error: InputError, format: str, path: Path) -> InputError:
    """`error` with a short message, plus what `path` looks like when that is another format."""
    message = error.message
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE] + f"... ({len(error.message):,} characters)"
    guess = sniff(path) if format != AUTO else None
    if guess is not None and guess.format != format:
        message += f"; {guess.hint()}"
    if message == error.message:
        return error
    return InputError(error.path, error.line, message)


__all__ = ["AUTO", "READERS", "read_dataset", "read_detections", "read_celeba", "read_coco", "read_facepoints",
           "read_voc", "read_wider", "read_wider_colmajor", "read_wider_lines", "read_yolo"]
