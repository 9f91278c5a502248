"""MTCNN crops as the TFRecords AITTSMD/MTCNN-Tensorflow trains from (``--layout tfrecord``).

One `tf.train.Example` per crop, the features its reader (``prepare_data/read_tfrecord_v2.py``,
``read_single_tfrecord``) parses with ``tf.parse_single_example``:

- ``image/encoded``, ``FixedLenFeature([], tf.string)``: raw uint8 S x S x 3 BGR bytes, row-major
  (``cv2.imread(path).tostring()``; the reader does ``decode_raw`` + ``reshape([S, S, 3])``);
- ``image/label``, ``FixedLenFeature([], tf.int64)``: 1 pos, 0 neg, -1 part, -2 landmark;
- ``image/roi``, ``FixedLenFeature([4], tf.float32)``: regression targets for pos/part, else zeros;
- ``image/landmark``, ``FixedLenFeature([10], tf.float32)``: ``x1 y1 ... x5 y5`` for landmark
  samples, else zeros.

Zeros where a class has no target: AITTSMD's ``gen_*_tfrecords.py`` start every sample's roi and
landmark at 0 and fill roi only from 6-field list lines (pos/part) and landmark only from
12-field lines (landmark samples); so a landmark crop carries roi zeros here even when samplegen
computed a box target for it. samplegen's landmark column is already ``x, y`` interleaved in
AITTSMD's point order (left eye, right eye, nose, left mouth, right mouth), so no reordering.

Splits (``--tfrecord-split``): ``mixed`` writes one ``PREFIX-000000.tfrecord`` per shard (PNet reads
one shuffled file); ``per-class`` writes ``PREFIX-000000.{pos,part,neg,landmark}.tfrecord`` (RNet
and ONet read one file per class). Each shard's records are permuted by
``rng_for(seed, "tfrecord:" + stem)``; `merge_mtcnn_tfrecords` then joins the shards into the
files AITTSMD's ``train.py`` opens, permuted as a whole by ``rng_for(seed, "tfrecord:" + name)``.
Neither depends on the worker count: a shard's samples depend only on its task.

AITTSMD's ``train.py`` also opens ``train_{PNet,RNet,ONet}_landmark.txt`` in the same folder,
only to count its lines (the number of training samples, which sets its learning-rate steps):
`write_record_list` writes one line per merged record, ``FILE#INDEX``.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from samplegen.mtcnn.labels import CLASS_NAMES, LANDMARK, PART, POS
from samplegen.rng import rng_for
from samplegen.writers.base import HashingFile, ShardFile
from samplegen.writers.tf_example import bytes_feature, example_bytes, float_feature, int64_feature
from samplegen.writers.tfrecord import TFRecordShardWriter, group_file, map_file, merge_records, record_spans

if TYPE_CHECKING:  # only the cls / roi / landmark columns are read
    from samplegen.mtcnn.crop_plan import CropPlan

SPLITS = ("mixed", "per-class")
PER_CLASS_GROUPS = ("pos", "part", "neg", "landmark")
"""Per-class files in the order AITTSMD's ``read_multi_tfrecords`` takes them."""
NETS = {12: "PNet", 24: "RNet", 48: "ONet"}
SHUFFLE_KEY = "tfrecord:"
_ZERO_ROI = np.zeros(4, np.float32)
_ZERO_LANDMARK = np.zeros(10, np.float32)


def mtcnn_example(crop: np.ndarray, cls: int, roi: np.ndarray, landmark: np.ndarray) -> bytes:
    """The serialised Example of one crop, AITTSMD's schema (module docstring).

    Args:
        crop: uint8 [S, S, 3] BGR pixels.
        cls: class code (`POS`, `NEG`, `PART`, `LANDMARK`).
        roi: float32 [4] regression targets; written only for `POS` and `PART`.
        landmark: float32 [10] ``x1 y1 ... x5 y5`` normalised to the crop; written only for `LANDMARK`.

    Returns:
        Example bytes (the payload of one TFRecord record).
    """
    crop = np.asarray(crop)
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] != crop.shape[1]:
        raise ValueError(f"crop must be uint8 [S, S, 3], got {crop.dtype} {crop.shape}")
    return example_bytes({
        "image/encoded": bytes_feature([np.ascontiguousarray(crop).tobytes()]),
        "image/label": int64_feature([int(cls)]),
        "image/roi": float_feature(roi if cls in (POS, PART) else _ZERO_ROI),
        "image/landmark": float_feature(landmark if cls == LANDMARK else _ZERO_LANDMARK),
    })


def split_groups(split: str) -> tuple[str, ...]:
    """The shard writer's groups: ``("",)`` for ``mixed``, `PER_CLASS_GROUPS` for ``per-class``."""
    if split not in SPLITS:
        raise ValueError(f"unknown tfrecord split {split!r}; expected one of {SPLITS}")
    return ("",) if split == "mixed" else PER_CLASS_GROUPS


def merged_names(size: int, split: str) -> dict[str, str]:
    """Group -> the file name AITTSMD's ``train_models/train.py`` opens in its ``base_dir``.

    ``mixed``: ``train_PNet_landmark.tfrecord_shuffle`` (``RNet``/``ONet`` for 24/48);
    ``per-class``: ``pos_landmark.tfrecord_shuffle``, ``part_...``, ``neg_...``, ``landmark_...``.
    """
    groups = split_groups(split)
    if split == "mixed":
        return {"": f"train_{NETS[size]}_landmark.tfrecord_shuffle"}
    return {group: f"{group}_landmark.tfrecord_shuffle" for group in groups}


class TFRecordSink:
    """``tfrecord`` layout of one shard: the same ``add`` / ``commit`` / ``abort`` as the job's sinks.

    Args:
        out_dir: output folder.
        stem: shard name without suffix (``PREFIX-000000``).
        split: ``mixed`` or ``per-class``.
        seed: the run seed; the shard is permuted by ``rng_for(seed, SHUFFLE_KEY + stem)``.
    """

    def __init__(self, out_dir: Path, stem: str, split: str, seed: int) -> None:
        self.mixed = split == "mixed"
        self.writer = TFRecordShardWriter(Path(out_dir), stem, split_groups(split))
        self.rng = rng_for(seed, SHUFFLE_KEY + stem)

    def add(self, plan: CropPlan, crops: np.ndarray, sources: list[str], copies: np.ndarray | None = None) -> None:
        """One image's rows: `crops` uint8 [K, S, S, 3] BGR, row-aligned with `plan` (`copies`
        are not written: AITTSMD's schema has no field for them, a copy is one more record)."""
        for k in range(len(plan)):
            code = int(plan.cls[k])
            self.writer.add(mtcnn_example(crops[k], code, plan.roi[k], plan.landmark[k]),
                            "" if self.mixed else CLASS_NAMES[code])

    def commit(self, sources: list[str]) -> list[ShardFile]:
        return self.writer.commit(self.rng)

    def abort(self) -> None:
        self.writer.abort()


def merge_mtcnn_tfrecords(out_dir: Path, stems: Sequence[str], size: int, split: str,
                          seed: int) -> list[ShardFile]:
    """Join the shards `stems` (shard order) into the files of `merged_names`, each permuted by
    ``rng_for(seed, SHUFFLE_KEY + name)``; returns them in `split_groups` order."""
    merged = []
    for group, name in merged_names(size, split).items():
        sources = [group_file(stem, group) for stem in stems]
        merged.append(merge_records(Path(out_dir), sources, name, rng_for(seed, SHUFFLE_KEY + name)))
    return merged


def record_list_name(size: int) -> str:
    """``train_PNet_landmark.txt`` (``RNet``/``ONet`` for 24/48): the list AITTSMD's train.py counts."""
    return f"train_{NETS[size]}_landmark.txt"


def write_record_list(out_dir: Path, names: Sequence[str], size: int) -> ShardFile:
    """Write `record_list_name`: one line ``FILE#INDEX`` per record of the TFRecord files `names`
    (index 0-based within FILE), in order. Only the framing is walked (memory-mapped, CRCs
    already checked by the merge): decoding every Example would cost ~100 us a record."""
    out = HashingFile(Path(out_dir) / record_list_name(size))
    try:
        for name in names:
            with open(Path(out_dir) / name, "rb") as handle, map_file(handle) as data:
                count = len(record_spans(data, check=False, name=name))
            out.write("".join(f"{name}#{index}\n" for index in range(count)).encode())
        return out.commit(Path(out_dir))
    except BaseException:
        out.abort()
        raise
