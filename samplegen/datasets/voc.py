"""Pascal VOC XML annotations (reference-semantics A.4).

Input is either a folder of ``*.xml`` files (read in sorted file-name order) or an
``ImageSets/Main/<list>.txt`` file, whose ids (first token of each line, so class-specific lists
with a trailing ``1``/``-1`` work too) name ``../../Annotations/<id>.xml`` relative to the list.

* Coordinates are 1-based and inclusive; they are parsed with ``float()`` (VOC2012 and labelImg
  exports contain floats) and become continuous ``[xmin - 1, ymin - 1, xmax, ymax]``.
* Only each object's *direct* ``bndbox`` is read, never the ``bndbox`` of a ``<part>``.
* ``difficult == 1`` -> ignore region (absent means 0); ``x2 <= x1`` or ``y2 <= y1`` -> dropped,
  reason ``zero_size`` (checked first).
* Class names are the sorted set of every object ``<name>`` in the dataset (so indices do not
  depend on file order); whitespace around names is stripped.
* The key and image are ``<filename>`` (or ``<id>.jpg`` when the element is missing); the size
  comes from ``<size>``, or from the image header under `images_root` when missing or 0.

Parsing uses defusedxml (no entity expansion, no external references). Syntax errors carry the
XML line; semantic errors carry the line of the offending element.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from samplegen.datasets.lines import (
    check_image_side, duplicate_error, float_field, int_field, numbered_tokens, quote, read_input,
)
from samplegen.datasets.paths import check_written_path, image_key, image_size_under, resolve_image
from samplegen.errors import InputError
from samplegen.record import Dataset, Record, ZERO_SIZE, check_record

_COORDS = ("xmin", "ymin", "xmax", "ymax")


class _LineTreeBuilder(TreeBuilder):
    """A TreeBuilder that remembers the source line of every element (ElementTree does not)."""

    def __init__(self) -> None:
        super().__init__()
        self.expat: Any = None
        self.lines: dict[int, int] = {}

    def start(self, tag: str, attrs: dict) -> Element:
        element = super().start(tag, attrs)
        self.lines[id(element)] = self.expat.CurrentLineNumber if self.expat is not None else 0
        return element


def read_voc(path: Path, images_root: Path | None) -> Dataset:
    """Read VOC XML annotations into one Record per XML file.

    Args:
        path: a folder of XML files, or an ``ImageSets/Main`` list file.
        images_root: the ``JPEGImages`` folder (sizes for files without ``<size>``), or None.

    Raises:
        InputError: an XML syntax error (with its line), an object without ``name`` or
            ``bndbox``, a non-numeric coordinate, a duplicate image, a listed id without XML.
    """
    files = _xml_files(path)
    parsed = [_parse_file(xml, images_root) for xml in files]
    class_names = tuple(sorted({obj[0] for _, _, objects in parsed for obj in objects}))
    index_of = {name: i for i, name in enumerate(class_names)}
    records: list[Record] = []
    first: dict[str, str] = {}
    for xml, (image, size, objects) in zip(files, parsed):
        key = image_key(image)
        if key in first:
            raise duplicate_error(xml, None, key, first[key])
        first[key] = str(xml)
        records.append(_record(key, image, size, objects, index_of))
    return Dataset("voc", str(path), records, class_names)


def _xml_files(path: Path) -> list[Path]:
    """The XML files to read, in reading order."""
    if path.is_dir():
        files = sorted(path.glob("*.xml"))
        if not files:
            raise InputError(path, None, "no .xml annotation files in this folder")
        return files
    annotations = path.parent.parent.parent / "Annotations"
    first: dict[str, int] = {}
    for number, tokens in numbered_tokens(path):
        if tokens[0] in first:
            raise duplicate_error(path, number, tokens[0], first[tokens[0]])
        first[tokens[0]] = number
        xml = annotations / f"{tokens[0]}.xml"
        if not xml.is_file():
            raise InputError(path, number, f"no annotation file {quote(str(xml))} for id {quote(tokens[0])}")
    return [annotations / f"{image_id}.xml" for image_id in first]


def _parse_file(xml: Path, images_root: Path | None) -> tuple[str, tuple[int | None, int | None], list]:
    """(image name, (width, height), [(name, box, difficult, line)]) for one XML file."""
    root, lines = _parse_xml(xml)
    filename = root.find("filename")
    image = (filename.text or "").strip() if filename is not None else ""
    image = image or f"{xml.stem}.jpg"
    size = (_size_value(xml, root, "width", lines), _size_value(xml, root, "height", lines))
    line = lines.get(id(filename)) if filename is not None else None
    check_written_path(image, xml, line)
    if images_root is not None:
        resolve_image(images_root, image, xml, line)  # refuse escapes even when the size is known
    if not size[0] or not size[1]:
        size = image_size_under(images_root, image, xml, line)
    objects = [_object(xml, obj, lines) for obj in root.findall("object")]
    return image, size, objects


def _parse_xml(xml: Path) -> tuple[Element, dict[int, int]]:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(target=builder)
    builder.expat = getattr(parser, "parser", None)
    try:
        parser.feed(read_input(xml))
        root = parser.close()
    except ParseError as exc:
        # str(exc) ends with ": line L, column C"; the line is already in FILE:LINE.
        raise InputError(xml, exc.position[0], f"invalid XML: {str(exc).split(': line ')[0]} "
                                               f"(column {exc.position[1] + 1})") from None
    except DefusedXmlException as exc:
        raise InputError(xml, None, f"refused XML: {exc}") from None
    return root, builder.lines


def _size_value(xml: Path, root: Element, name: str, lines: dict[int, int]) -> int | None:
    element = root.find(f"size/{name}")
    if element is None or not (element.text or "").strip():
        return None
    line = lines.get(id(element))
    value = int_field(xml, line, element.text.strip(), f"size/{name}")
    check_image_side(xml, line, value, f"size/{name}")
    return value if value > 0 else None


def _object(xml: Path, obj: Element, lines: dict[int, int]) -> tuple[str, list[float], bool, int | None]:
    line = lines.get(id(obj))
    name_el = obj.find("name")
    if name_el is None or not (name_el.text or "").strip():
        raise InputError(xml, line, "object without <name>")
    bndbox = obj.find("bndbox")  # direct child only: a <part>'s bndbox is not matched
    if bndbox is None:
        raise InputError(xml, line, f"object {quote(name_el.text.strip())} without <bndbox>")
    coords = []
    for tag in _COORDS:
        element = bndbox.find(tag)
        if element is None or not (element.text or "").strip():
            raise InputError(xml, lines.get(id(bndbox)), f"bndbox without <{tag}>")
        coords.append(float_field(xml, lines.get(id(element)), element.text.strip(), tag))
    difficult_el = obj.find("difficult")
    difficult = False
    if difficult_el is not None and (difficult_el.text or "").strip():
        difficult = int_field(xml, lines.get(id(difficult_el)), difficult_el.text.strip(), "difficult") == 1
    x1, y1, x2, y2 = coords
    return name_el.text.strip(), [x1 - 1, y1 - 1, x2, y2], difficult, line


def _record(key: str, image: str, size: tuple[int | None, int | None], objects: list,
            index_of: dict[str, int]) -> Record:
    sized = [(n, b, d) for n, b, d, _ in objects if b[2] > b[0] and b[3] > b[1]]
    usable = [(b, index_of[n]) for n, b, d in sized if not d]
    hard = [(b, index_of[n]) for n, b, d in sized if d]
    dropped = len(objects) - len(sized)
    record = Record(
        key=key, image=image, width=size[0], height=size[1],
        boxes=np.array([b for b, _ in usable], np.float32).reshape(-1, 4),
        labels=np.array([c for _, c in usable], np.int32),
        ignore=np.array([b for b, _ in hard], np.float32).reshape(-1, 4),
        ignore_labels=np.array([c for _, c in hard], np.int32),
        dropped={ZERO_SIZE: dropped} if dropped else {},
    )
    check_record(record)
    return record
