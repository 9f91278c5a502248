"""Checks of a whole dataset once it is read: is it what the user meant to give?

A reader validates each line; these catch the mistakes that parse fine line by line:

* `check_not_empty` - no image at all (an empty or blank file): a run of 0 images is refused.
* `check_drops` - the reader dropped a large share of the boxes (``zero_size``: a file of another
  layout read with this one, e.g. AITTSMD's column-major list read as ``wider-lines`` loses 73 %).
  Above `WARN_SHARE` (and at least `WARN_MIN` boxes) a warning on stderr gives the counts and the
  likely cause; above `REFUSE_SHARE` (and at least `REFUSE_MIN` boxes) the read is refused unless
  ``allow_drops``. The minimum counts keep a hand-made file of three boxes, one of them a WIDER
  zero-face placeholder, from tripping the shares.
* `check_images_present` - none or nearly none of the images are under the images root (a wrong
  ``--images``): refused before any planning, naming the first file expected. It stats at most
  `IMAGE_SAMPLE` files spread evenly over the records, and refuses when fewer than
  `MIN_PRESENT_SHARE` of them exist; a partial folder above that share runs, its missing images
  counted and skipped as before.

Warnings go to stderr as ``samplegen: warning: ...`` (stdout carries only a command's JSON).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from samplegen.datasets.paths import image_file
from samplegen.datasets.sniff import Guess
from samplegen.errors import InputError
from samplegen.record import Dataset, Record, ZERO_SIZE

WARN_SHARE = 0.03
WARN_MIN = 5
REFUSE_SHARE = 0.2
REFUSE_MIN = 20
IMAGE_SAMPLE = 200
MIN_PRESENT_SHARE = 0.02

DROP_CAUSES = {
    ZERO_SIZE: "no width or height as this format reads the values",
}


def warn(message: str) -> None:
    """One warning line on stderr."""
    print(f"samplegen: warning: {message}", file=sys.stderr, flush=True)


def check_not_empty(dataset: Dataset) -> None:
    """Refuse a dataset without a single image (an empty or blank annotation file)."""
    if not dataset.records:
        raise InputError(dataset.source, None, f"no images: nothing in this file reads as {dataset.format} "
                                               "(is it empty or blank?)")


def drop_counts(dataset: Dataset) -> tuple[dict[str, int], int]:
    """(dropped boxes by reason, every box of the file: usable + ignored + dropped)."""
    dropped: dict[str, int] = {}
    kept = 0
    for record in dataset.records:
        kept += record.num_boxes + int(record.ignore.shape[0])
        for reason, count in record.dropped.items():
            dropped[reason] = dropped.get(reason, 0) + int(count)
    return dropped, kept + sum(dropped.values())


def check_drops(dataset: Dataset, allow_drops: bool = False, guess: Callable[[], Guess | None] = lambda: None,
                warn_to: Callable[[str], None] = warn) -> None:
    """Warn about, or refuse, a dataset whose reader dropped a large share of its boxes.

    Args:
        dataset: what the reader returned.
        allow_drops: warn instead of refusing above `REFUSE_SHARE`.
        guess: called only when there is something to say: what the file looks like (the hint
            names the right ``--format`` when it is another one).
        warn_to: where the warning line goes.

    Raises:
        InputError: more than `REFUSE_SHARE` of at least `REFUSE_MIN` boxes dropped, without
            `allow_drops`.
    """
    dropped, total = drop_counts(dataset)
    count = sum(dropped.values())
    if total == 0 or count < WARN_MIN or count / total <= WARN_SHARE:
        return
    reasons = ", ".join(f"{reason}: {DROP_CAUSES.get(reason, reason)}" for reason in sorted(dropped))
    message = f"{count:,} of {total:,} boxes ({100 * count / total:.1f} %) dropped while reading as {dataset.format} ({reasons})"
    found = guess()
    if found is not None and found.format != dataset.format:
        message += f"; {found.hint()}"
    refuse = count >= REFUSE_MIN and count / total > REFUSE_SHARE
    if refuse and not allow_drops:
        raise InputError(dataset.source, None, f"{message}; refusing to continue (--allow-drops reads it anyway)")
    warn_to(f"{dataset.source}: {message}")


def check_images_present(dataset: Dataset, images_root: Path | str,
                         present: Callable[[Record], bool] | None = None) -> None:
    """Refuse when none (or under `MIN_PRESENT_SHARE`) of a sample of the images exist under the root.

    `present` tells whether a record's image is there (default: its file under a local root).

    Raises:
        InputError: naming the annotation file, the root, how many images it lists and the first
            file expected.
    """
    records = dataset.records
    if not records:
        return
    step = max(1, len(records) // IMAGE_SAMPLE)
    sample = records[::step][:IMAGE_SAMPLE]
    is_there = present if present is not None else (lambda record: Path(image_file(images_root, record)).is_file())
    found = sum(1 for record in sample if is_there(record))
    if found >= MIN_PRESENT_SHARE * len(sample) and found > 0:
        return
    first = image_file(images_root, records[0])
    if found == 0:
        head = f"none of the {len(records):,} images of {dataset.source} are under this folder"
    else:
        head = (f"only {found} of {len(sample)} images sampled from the {len(records):,} of {dataset.source} "
                "are under this folder")
    raise InputError(images_root, None, f"{head} (first expected: {first}); is it the folder the "
                                        "annotation's image paths are relative to?")


def check_sizes_known(dataset: Dataset, option: str) -> None:
    """Refuse, before any work, a file whose images have no size when no images folder is given:
    every such image would only be skipped later (``no_size``), after a run that wrote nothing.

    Raises:
        InputError: naming the file, how many images lack a size and `option`, the flag to give.
    """
    sizeless = sum(1 for record in dataset.records if record.width is None or record.height is None)
    if sizeless:
        raise InputError(Path(dataset.source), None,
                         f"{sizeless:,} of its {len(dataset.records):,} images have no size in this file "
                         f"(WIDER and facial-point lists store none): give {option} FOLDER, the folder its "
                         "image paths are relative to, and the sizes are read from the image headers")
