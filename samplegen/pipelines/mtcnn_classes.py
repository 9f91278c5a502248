"""Which classes of a multi-class annotation are faces (``samplegen mtcnn --classes``).

MTCNN crops one object class. A dataset with several classes (COCO's 80, VOC's 20, a YOLO
``data.yaml``) would otherwise have every object treated as a face, so it is refused unless
``--classes`` names the face classes; single-class datasets (every face format) need nothing.

A class is given by its name or by its id: the original id where the format has one (COCO's
``category_id``, from ``Dataset.meta["category_ids"]``), else the contiguous index (a YOLO
label's class number). The boxes of the other classes are dropped, with their ignore regions
and landmarks; negatives may then overlap them, as they are not faces.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from samplegen.errors import ConfigError
from samplegen.record import Dataset, Record

CLASSES_FLAG = "--classes NAME[,NAME]"


def class_ids(dataset: Dataset) -> list[int]:
    """The id a user may give for each contiguous class index (original ids where known)."""
    ids = dataset.meta.get("category_ids")
    return [int(i) for i in ids] if isinstance(ids, list) else list(range(len(dataset.class_names)))


def describe_classes(dataset: Dataset) -> str:
    """``1 person, 2 bicycle, ...``: id and name of every class."""
    return ", ".join(f"{i} {name}" for i, name in zip(class_ids(dataset), dataset.class_names))


def parse_classes(classes: str | Sequence[str | int] | None) -> list[str] | None:
    """``"person,face"`` or ``["person", 3]`` -> stripped tokens; None stays None."""
    if classes is None:
        return None
    tokens = classes.split(",") if isinstance(classes, str) else [str(c) for c in classes]
    tokens = [t.strip() for t in tokens if t.strip()]
    if not tokens:
        raise ConfigError(f"classes: expected names or ids separated by commas, got {classes!r}")
    return tokens


def chosen_indices(dataset: Dataset, tokens: list[str] | None) -> list[int] | None:
    """Contiguous indices of the classes named by `tokens` (names, or ids when all digits).

    Returns None when every class is kept (a single-class dataset and no `tokens`).

    Raises:
        ConfigError: a multi-class dataset without `tokens` (listing its classes and the flag),
            or a token naming no class.
    """
    names = dataset.class_names
    if tokens is None:
        if len(names) > 1:
            raise ConfigError(
                f"{dataset.source}: {len(names)} classes ({describe_classes(dataset)}); MTCNN crops one kind "
                f"of object: choose the face classes with {CLASSES_FLAG} (names or ids)")
        return None
    by_id = {str(i): k for k, i in enumerate(class_ids(dataset))}
    by_name = {name: k for k, name in enumerate(names)}
    chosen = []
    for token in tokens:
        index = by_id.get(token) if token.isdigit() else by_name.get(token)
        if index is None:
            raise ConfigError(f"classes: {token!r} is not a class of {dataset.source} ({describe_classes(dataset)})")
        if index not in chosen:
            chosen.append(index)
    return sorted(chosen)


def keep_classes(record: Record, indices: Sequence[int]) -> Record:
    """`record` with only the boxes (and ignore regions, landmarks, attributes) of `indices`."""
    keep = np.isin(record.labels, indices)
    keep_ignore = np.isin(record.ignore_labels, indices)
    return replace(record, boxes=record.boxes[keep], labels=record.labels[keep],
                   ignore=record.ignore[keep_ignore], ignore_labels=record.ignore_labels[keep_ignore],
                   landmarks=None if record.landmarks is None else record.landmarks[keep],
                   attributes={name: values[keep] for name, values in record.attributes.items()})


def select_classes(dataset: Dataset, classes: str | Sequence[str | int] | None) -> tuple[list[Record], dict]:
    """The records with only the face classes, and what the manifest records about the choice.

    Returns:
        (records, info): `info` is ``{}`` when every class is kept, else ``{"classes": [names],
        "class_ids": [ids]}`` (fingerprinted: it decides the bytes).
    """
    indices = chosen_indices(dataset, parse_classes(classes))
    if indices is None:
        return dataset.records, {}
    ids = class_ids(dataset)
    info = {"classes": [dataset.class_names[k] for k in indices], "class_ids": [ids[k] for k in indices]}
    return [keep_classes(record, indices) for record in dataset.records], info
