"""What an annotation file looks like, from its first bytes: ``--format auto`` and the hints of errors.

`sniff` reads at most `SNIFF_BYTES` (and the first `SNIFF_LINES` lines of text), so guessing costs
the same for a 3 KB list as for a 450 MB COCO file. It answers with a `Guess` only when the
evidence is specific to one layout:

* a folder: ``*.xml`` files that are VOC (the first decides), ``list_bbox_celeba.txt`` (CelebA),
  a ``data.yaml`` or image files under an ``images`` component (YOLO); a file under
  ``ImageSets/Main`` (a VOC list);
* JSON: an object naming ``"images"``, ``"annotations"`` or ``"categories"`` (COCO); lines of
  ``{"image": ..., "boxes": ...}`` (detections, not annotations);
* XML: ``<annotation>`` (one VOC file), ``<dataset>`` with ``<images>`` (dlib imglab, not read);
* YAML with ``train:`` and ``names:`` (YOLO ``data.yaml``);
* text: a count line then a header naming ``x_1``/``width`` (CelebA boxes) or ``lefteye_x``
  (CelebA landmarks); an image line, a count line and 10-number box lines (WIDER); lines of a path
  and 14 numbers (facial points); lines of a path and 4k numbers: row-major ``x1 y1 x2 y2``
  (``wider-lines``) when those boxes have a size, column-major (``wider-colmajor``) when more
  than `COLMAJOR_BAD_SHARE` of them would not (at least `MIN_BOXES` boxes decide); ``path label roi...`` (an MTCNN training list,
  an output); 5 numbers per line (one YOLO label file).

Anything else is None: `--format auto` then asks for ``--format``, it never guesses.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

SNIFF_BYTES = 1 << 16
SNIFF_LINES = 200
COLMAJOR_BAD_SHARE = 0.2  # row-major lists have ~0.02 % boxes without size, column-major ~73 %
ROW_MAJOR_BAD_SHARE = 0.05
MIN_BOXES = 10  # fewer boxes than this in the sampled lines tell neither layout
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Guess:
    """What a file looks like.

    Attributes:
        format: the `READERS` name that reads it, or None when samplegen has no reader for it.
        what: a short description ("COCO instances JSON").
        advice: what to do ("use --format coco").
        path: the file to give that reader when it is not the sniffed path (a folder's
            ``data.yaml``), else None.
    """

    format: str | None
    what: str
    advice: str
    path: Path | None = None

    def hint(self) -> str:
        return f"this looks like {self.what}: {self.advice}"


def sniff(path: Path) -> Guess | None:
    """The `Guess` for `path` (a file or a folder), or None when nothing specific shows."""
    try:
        if path.is_dir():
            return _sniff_folder(path)
        if not path.is_file():
            return None
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except (OSError, ValueError):
        return None
    if path.parent.name == "Main" and path.parent.parent.name == "ImageSets":
        return Guess("voc", "a Pascal VOC ImageSets/Main list", "use --format voc")
    text = head.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _sniff_json(stripped)
    if stripped.startswith("<"):
        return _sniff_xml(stripped)
    if _looks_like_data_yaml(text):
        return Guess("yolo", "a YOLO data.yaml", "use --format yolo")
    return _sniff_text(text, complete=len(head) < SNIFF_BYTES)


def _sniff_folder(path: Path) -> Guess | None:
    names = {p.name for p in path.iterdir()}
    if "data.yaml" in names:
        return Guess("yolo", "a YOLO dataset folder", f"use --format yolo with {path / 'data.yaml'}",
                     path / "data.yaml")
    if "list_bbox_celeba.txt" in names:
        return Guess("celeba", "a CelebA annotation folder", "use --format celeba")
    xml = sorted(name for name in names if name.lower().endswith(".xml"))
    if xml:
        guess = sniff(path / xml[0])
        if guess is not None and guess.format == "voc":
            return Guess("voc", "a folder of Pascal VOC XML files", "use --format voc")
        return guess
    if "images" in path.parts and any(name.lower().endswith(_IMAGE_SUFFIXES) for name in names):
        return Guess("yolo", "a YOLO images folder", "use --format yolo")
    return None


def _sniff_json(text: str) -> Guess | None:
    first_line = text.split("\n", 1)[0]
    try:
        first = json.loads(first_line)
    except (ValueError, RecursionError):
        first = None
    if isinstance(first, dict) and "image" in first and "boxes" in first:
        return Guess(None, "detections JSON lines ({\"image\": ..., \"boxes\": ...})",
                     "give it as --detections (or --proposals), not as annotations")
    if text.startswith("{") and any(f'"{key}"' in text for key in ("images", "annotations", "categories")):
        return Guess("coco", "COCO instances JSON", "use --format coco")
    return None


def _sniff_xml(text: str) -> Guess | None:
    if "<annotation" in text:
        return Guess("voc", "a Pascal VOC XML file",
                     "use --format voc with the folder of XML files (or an ImageSets/Main list)")
    if "<dataset" in text and "<images" in text:
        return Guess(None, "dlib imglab XML", "samplegen does not read it: convert it to WIDER, COCO or VOC")
    return None


def _looks_like_data_yaml(text: str) -> bool:
    keys = {line.split(":", 1)[0].strip() for line in text.splitlines() if ":" in line and not line.startswith(" ")}
    return {"train", "names"} <= keys


def _is_number(token: str) -> bool:
    return _NUMBER.fullmatch(token) is not None


def _sniff_text(text: str, complete: bool) -> Guess | None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not complete:
        lines = lines[:-1]  # the last line may be cut in the middle
    rows = [line.split() for line in lines if line.strip()][:SNIFF_LINES]
    if not rows:
        return None
    return _celeba(rows) or _wider_blocks(rows) or _one_line_lists(rows)


def _celeba(rows: list[list[str]]) -> Guess | None:
    if len(rows) < 2 or len(rows[0]) != 1 or not rows[0][0].isdigit():
        return None
    header = {token.lower() for token in rows[1]}
    if {"x_1", "width"} <= header:
        return Guess("celeba", "CelebA's list_bbox_celeba.txt", "use --format celeba")
    if "lefteye_x" in header:
        return Guess("celeba", "CelebA's landmarks list",
                     "use --format celeba with list_bbox_celeba.txt (the landmarks beside it are read too)")
    return None


def _wider_blocks(rows: list[list[str]]) -> Guess | None:
    if len(rows) < 3 or len(rows[0]) != 1 or _is_number(rows[0][0]):
        return None
    if len(rows[1]) != 1 or not rows[1][0].isdigit():
        return None
    box_rows = rows[2:2 + max(1, int(rows[1][0]))]
    if box_rows and all(len(r) == 10 and all(_is_number(t) for t in r) for r in box_rows):
        return Guess("wider", "a WIDER FACE ground-truth file (image, count, box lines)", "use --format wider")
    return None


def _one_line_lists(rows: list[list[str]]) -> Guess | None:
    if all(all(_is_number(t) for t in r) for r in rows):
        if all(len(r) == 5 for r in rows):
            return Guess("yolo", "one YOLO label file (class xc yc w h)",
                         "use --format yolo with the data.yaml or the images folder")
        return None
    if not all(not _is_number(r[0]) and all(_is_number(t) for t in r[1:]) for r in rows):
        return None
    counts = {len(r) - 1 for r in rows}
    if counts == {14}:
        return Guess("facepoints", "a facial-point list (path x1 x2 y1 y2 + 5 points)", "use --format facepoints")
    if counts <= {1, 5, 11} and counts & {5, 11} and {r[1] for r in rows} <= {"1", "0", "-1", "-2"}:
        return Guess(None, "an MTCNN training list (path label roi...), an output of an MTCNN generator",
                     "annotations are needed (WIDER, COCO, ...), not a training list")
    if all(n % 4 == 0 for n in counts):
        return _row_or_column_major(rows)
    return None


def _row_or_column_major(rows: list[list[str]]) -> Guess | None:
    """Row-major ``x1 y1 x2 y2`` boxes have a size; column-major values read that way mostly do not."""
    sized = unsized = 0
    for row in rows:
        values = [float(t) for t in row[1:]]
        for i in range(0, len(values), 4):
            x1, y1, x2, y2 = values[i:i + 4]
            if x1 == y1 == x2 == y2 == 0:
                continue  # the zero-face placeholder of both layouts
            if x2 > x1 and y2 > y1:
                sized += 1
            else:
                unsized += 1
    total = sized + unsized
    if total < MIN_BOXES:
        return None
    if unsized / total > COLMAJOR_BAD_SHARE:
        return Guess("wider-colmajor", "AITTSMD's column-major list (path x1..xn y1..yn w1..wn h1..hn)",
                     "use --format wider-colmajor")
    if unsized / total < ROW_MAJOR_BAD_SHARE:
        return Guess("wider-lines", "a one-line-per-image box list (path x1 y1 x2 y2 ...)",
                     "use --format wider-lines")
    return None
