"""A run's input files, local or in object storage (`Inputs`).

Every command takes its annotations, images root, landmark list and detections either as paths
(``file://`` URLs mean the same) or as object-storage URLs (``s3://bucket/key``, any fsspec
URL; `samplegen.engine.object_inputs` says how they are read). Inside ``with Inputs() as
inputs:``

* `Inputs.local` gives the local path of an input, downloading a URL once into a private
  temporary folder that the ``with`` block removes however it ends (a run killed with SIGKILL
  leaves it: the next run on the machine removes it);
* `Inputs.dataset` reads an annotation with its images root: under an object-storage root
  (`RemoteRoot`), the reader checks the paths as under a local one, the sizes the file lacks are
  read from the objects' first bytes, and the images are checked to be there;
* `Inputs.describe` gives the manifest's ``inputs``, naming each input as the user gave it
  (the URL) with the SHA-256 of the bytes read;
* an `InputError` that names a downloaded copy names the URL instead.

A YOLO dataset is found through its folder layout, images included, so it is read from a
local folder only.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from samplegen.datasets import checks, read_dataset
from samplegen.datasets.image_size import image_size
from samplegen.datasets.paths import RemoteRoot, image_file
from samplegen.engine.manifest import describe_input
from samplegen.engine.spool import sweep_ended
from samplegen.errors import ConfigError, InputError
from samplegen.locations import is_remote, local_or_remote
from samplegen.record import Dataset
from samplegen.record_table import PackedRecords, packed_records

JPEG_START = b"\xff\xd8"
INPUTS_PREFIX = "samplegen-inputs-"   # the temporary folder of a run's downloaded inputs
# Formats whose reader, given a file, reads files beside it: from object storage, the folder.
FOLDER_FORMATS = {"celeba": "the one holding list_bbox_celeba.txt and list_landmarks_celeba.txt",
                  "voc": "the Annotations folder"}


class Inputs:
    """The inputs of one run (module docstring); a context manager."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._copies: dict[str, Path] = {}

    def __enter__(self) -> "Inputs":
        return self

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
        if isinstance(exc, InputError):
            shown = self._shown(exc)
            if shown is not exc:
                raise shown from None

    def _shown(self, exc: InputError) -> InputError:
        """`exc` naming the URLs of the downloaded copies it names (itself when it names none)."""
        path, message = exc.path, exc.message
        for url, copy in self._copies.items():
            path, message = path.replace(str(copy), url), message.replace(str(copy), url)
        return exc if (path, message) == (exc.path, exc.message) else InputError(path, exc.line, message)

    def local(self, location: str | Path | None) -> Path | None:
        """The local path of `location` (None stays None); a URL is downloaded on first use.

        Raises:
            InputError: nothing at the URL.
            OSError: it cannot be read (naming the URL).
            ConfigError: a URL naming no bucket, or without its fsspec driver.
        """
        if location is None:
            return None
        if not is_remote(location):
            return Path(local_or_remote(location))
        if not str(location).partition("://")[2].strip("/"):
            raise ConfigError(f"{location}: names no bucket or object")
        url = str(location).rstrip("/")
        if url not in self._copies:
            from samplegen.engine.object_inputs import download

            if self._folder is None:
                # Named by pid: a run killed before its cleanup leaves its copies, which the next
                # run on this machine removes.
                sweep_ended(Path(tempfile.gettempdir()), INPUTS_PREFIX)
                self._folder = Path(tempfile.mkdtemp(prefix=f"{INPUTS_PREFIX}{os.getpid()}-"))
            slot = self._folder / str(len(self._copies))
            slot.mkdir()
            try:
                self._copies[url] = download(url, slot)
            except FileNotFoundError:
                raise InputError(url, None, "no such object or prefix") from None
            # Any other failure (no access, no connection) is the environment's: an OSError
            # naming the URL, exit 1, as when reading the images.
        return self._copies[url]

    def dataset(self, format: str, annotations: str | Path, images: str | Path | None, *,
                allow_drops: bool = False, sizes_from: str | None = None) -> Dataset:
        """`samplegen.datasets.read_dataset` of `annotations` under `images`, either of them a URL."""
        shown = str(annotations).rstrip("/") if is_remote(annotations) else None
        if shown is not None and format == "yolo":
            raise _yolo_refused(shown)
        local = self.local(annotations)
        if shown is not None and format in FOLDER_FORMATS and not local.is_dir():
            # These readers look beside the file (CelebA's landmark list, VOC's Annotations/
            # folder from an ImageSets list): one object would silently read less, or elsewhere.
            raise ConfigError(f"{shown}: read {format} from object storage through its folder URL "
                              f"({FOLDER_FORMATS[format]})")
        if not is_remote(images):
            dataset = read_dataset(format, local, local_or_remote(images) if images is not None else None,
                                   allow_drops=allow_drops, sizes_from=sizes_from, shown_as=shown)
        else:
            root = RemoteRoot(str(images).rstrip("/"))
            dataset = read_dataset(format, local, root, allow_drops=allow_drops, shown_as=shown)
            if dataset.format != "yolo":
                dataset = _under_remote_root(dataset, root)
        if shown is not None and dataset.format == "yolo":   # --format auto found one
            raise _yolo_refused(shown)
        return dataset

    def describe(self, **locations: str | Path | None) -> tuple[dict[str, str], ...]:
        """The manifest's ``inputs``: role, location as given, SHA-256 of each input that is given."""
        return tuple({**describe_input(role, self.local(where)), "path": str(_as_given(where))}
                     for role, where in locations.items() if where is not None)


def _yolo_refused(url: str) -> ConfigError:
    return ConfigError(f"{url}: a YOLO dataset is found through its folder layout, images included: "
                       "read it from a local folder")


def _as_given(location: str | Path) -> Any:
    return str(location).rstrip("/") if is_remote(location) else local_or_remote(location)


def _under_remote_root(dataset: Dataset, root: str) -> Dataset:
    """`dataset` read under its object-storage images `root` (its paths checked by the reader):
    fill the sizes from the objects' headers, refuse a root holding (almost) none of the images."""
    from samplegen.engine.object_inputs import HEAD_BYTES, exists, object_heads, read_object

    given = dataset.records
    sizeless = [i for i, r in enumerate(given) if r.width is None or r.height is None]
    urls = [str(image_file(root, given[i])) for i in sizeless]
    seen: dict[str, bool] = {}   # key -> whether its object is there, where a head was asked for
    sizes: dict[int, tuple[int, int]] = {}
    for index, url, head in zip(sizeless, urls, object_heads(urls)):
        seen[given[index].key] = head is not None
        size = image_size(head) if head is not None else None
        if size is None and head is not None and head.startswith(JPEG_START) and len(head) >= HEAD_BYTES:
            size = image_size(read_object(url))   # the frame header lies beyond a large EXIF block
        if size is not None:
            sizes[index] = size
    sized = (dataclasses.replace(r, width=sizes[i][0], height=sizes[i][1]) if i in sizes else r
             for i, r in enumerate(given))
    # Packed again when the reader packed them (the parent holds every record).
    records = packed_records(sized) if isinstance(given, PackedRecords) else list(sized)
    dataset = dataclasses.replace(dataset, records=records)
    checks.check_images_present(dataset, root, present=lambda record: seen[record.key] if record.key in seen
                                else exists(str(image_file(root, record))))
    return dataset
