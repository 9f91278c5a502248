"""The loading rules of the trainers samplegen's outputs feed, restated from their code.

Each function repeats, step by step, what the named file of the trainer does with a file
samplegen wrote (read with the `fetch` of the reference repositories; not copied), so a test
can load an output exactly as that trainer would, without its framework:

- DFace (kuaikuaikim/DFace) ``dface/core/imagedb.py``: ``ImageDB.load_annotations`` with
  ``real_image_path``, then ``image_reader.get_minibatch``'s ``cv2.imread``;
- AITTSMD (AITTSMD/MTCNN-Tensorflow) ``prepare_data/gen_imglist_onet.py`` (every line of
  ``S/pos_S.txt``, ``neg``, ``part``, ``landmark_S_aug.txt`` into ``train_*_landmark.txt``),
  ``gen_*_tfrecords.py`` ``get_dataset`` + ``tfrecord_utils._process_image_withoutcoder``, and
  ``read_tfrecord_v2.read_single_tfrecord``'s feature spec (read with the `tfrecord` package);
  ``train_models/train.py`` counts the lines of ``train_{PNet,RNet,ONet}_landmark.txt``.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

AITTSMD_FEATURES = {"image/encoded": "byte", "image/label": "int", "image/roi": "float", "image/landmark": "float"}
"""``read_single_tfrecord``: encoded FixedLen string, label int64, roi FixedLen [4] float32,
landmark FixedLen [10] float32 (the `tfrecord` package's names for those kinds)."""
NETS = {12: "PNet", 24: "RNet", 48: "ONet"}


def dface_load_annotations(annotation_file: Path, prefix_path: str = "") -> list[dict]:
    """``ImageDB(annotation_file, prefix_path).load_imdb()`` in train mode.

    Per line: ``strip().split(' ')``; the path (backslashes made slashes) is used as it is when
    it exists, else joined to `prefix_path`; ``.jpg`` is appended unless it ends so, and the file
    must exist. ``label = int(field 1)``; 4 more numbers fill ``bbox_target``, 14 fill
    ``bbox_target`` (first 4) and ``landmark_target`` (last 10); any other count leaves zeros.
    """
    imdb = []
    for line in Path(annotation_file).read_text().splitlines(keepends=True):
        fields = line.strip().split(" ")
        index = fields[0].replace("\\", "/")
        image = index if os.path.exists(index) else os.path.join(prefix_path, index)
        if not image.endswith(".jpg"):
            image = image + ".jpg"
        assert os.path.exists(image), f"Path does not exist: {image}"
        entry = {"image": image, "label": int(fields[1]), "bbox_target": np.zeros(4),
                 "landmark_target": np.zeros(10)}
        rest = fields[2:]
        if len(rest) == 4:
            entry["bbox_target"] = np.array(rest[0:4]).astype(float)
        if len(rest) == 14:
            entry["bbox_target"] = np.array(rest[0:4]).astype(float)
            entry["landmark_target"] = np.array(rest[4:]).astype(float)
        imdb.append(entry)
    return imdb


def aittsmd_imglist(data_dir: Path, size: int) -> list[str]:
    """``gen_imglist_onet.py``: the lines of ``DATA/S/pos_S.txt``, ``neg_S.txt``, ``part_S.txt``
    and ``landmark_S_aug.txt``, all of them in that order (``readlines``; the PNet/RNet
    variants draw pos/neg/part with replacement from the same files)."""
    lines = []
    for name in (f"pos_{size}.txt", f"neg_{size}.txt", f"part_{size}.txt", f"landmark_{size}_aug.txt"):
        with open(os.path.join(data_dir, f"{size}/{name}")) as handle:
            lines += handle.readlines()
    return lines


def aittsmd_dataset(lines: list[str]) -> list[dict]:
    """``gen_*_tfrecords.py`` ``get_dataset``: ``strip().split(' ')``; filename, ``int`` label;
    6 fields fill the roi (``xmin ymin xmax ymax``), 12 fields the 10 landmark values; zeros else."""
    dataset = []
    for line in lines:
        info = line.strip().split(" ")
        roi, landmark = np.zeros(4), np.zeros(10)
        if len(info) == 6:
            roi = np.array([float(v) for v in info[2:6]])
        if len(info) == 12:
            landmark = np.array([float(v) for v in info[2:12]])
        dataset.append({"filename": info[0], "label": int(info[1]), "roi": roi, "landmark": landmark})
    return dataset


def aittsmd_image_bytes(filename: str) -> bytes:
    """``tfrecord_utils._process_image_withoutcoder``: ``cv2.imread(filename).tostring()`` with
    its two shape asserts (the path opened as written, relative to the working directory)."""
    image = cv2.imread(filename)
    assert image is not None, f"cv2.imread could not read {filename}"
    assert len(image.shape) == 3 and image.shape[2] == 3
    return image.tobytes()


def aittsmd_train_count(base_dir: Path, size: int) -> int:
    """``train.py``: ``len(open(base_dir/train_<Net>_landmark.txt).readlines())``."""
    with open(os.path.join(base_dir, f"train_{NETS[size]}_landmark.txt")) as handle:
        return len(handle.readlines())


def aittsmd_tfrecord_files(base_dir: Path, size: int) -> list[Path]:
    """The TFRecords ``train.py`` reads from `base_dir`: PNet one mixed file, RNet/ONet
    ``pos``, ``part``, ``neg``, ``landmark`` (``read_multi_tfrecords`` order)."""
    if size == 12:
        return [Path(base_dir) / "train_PNet_landmark.tfrecord_shuffle"]
    return [Path(base_dir) / f"{group}_landmark.tfrecord_shuffle" for group in ("pos", "part", "neg", "landmark")]


def aittsmd_tfrecord_records(path: Path, size: int) -> list[dict]:
    """Every record of `path` parsed with the ``read_single_tfrecord`` spec: image decoded as raw
    uint8 and reshaped to [S, S, 3] (``decode_raw`` + ``reshape``), label, roi [4], landmark [10]."""
    from tfrecord.reader import tfrecord_loader

    records = []
    for raw in tfrecord_loader(str(path), None, AITTSMD_FEATURES):
        assert raw["image/label"].shape == (1,) and raw["image/roi"].shape == (4,)
        assert raw["image/landmark"].shape == (10,)
        image = np.frombuffer(bytes(raw["image/encoded"]), np.uint8).reshape(size, size, 3)
        records.append({"image": image, "label": int(raw["image/label"][0]),
                        "roi": raw["image/roi"].astype(np.float32),
                        "landmark": raw["image/landmark"].astype(np.float32)})
    return records
