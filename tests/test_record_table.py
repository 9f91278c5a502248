"""Records packed column-wise (`samplegen.record_table`) give back the very records they were
packed from, whatever fields a reader sets, and cost a fraction of the objects."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from samplegen.datasets import read_dataset
from samplegen.record import NO_BOXES, NO_LABELS, BoxAttributes, Record
from samplegen.record_table import PackedRecords, RecordTable, packed_records

DATA = Path(__file__).resolve().parent / "data" / "annotations"
FIELDS = ("key", "image", "width", "height", "file")
ARRAYS = ("boxes", "labels", "ignore", "ignore_labels")


def assert_same(got: Record, want: Record) -> None:
    for name in FIELDS:
        assert getattr(got, name) == getattr(want, name), name
    for name in ARRAYS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name
    assert (got.landmarks is None) == (want.landmarks is None)
    if want.landmarks is not None:
        assert got.landmarks.dtype == want.landmarks.dtype and np.array_equal(got.landmarks, want.landmarks)
    assert list(got.attributes) == list(want.attributes)
    for name in want.attributes:
        assert np.array_equal(got.attributes[name], want.attributes[name]), name
        assert np.asarray(got.attributes[name]).dtype == np.asarray(want.attributes[name]).dtype
    assert dict(got.dropped) == dict(want.dropped)


def box(x1: float, y1: float, x2: float, y2: float) -> list[float]:
    return [x1, y1, x2, y2]


def odd_records() -> list[Record]:
    """Every field a reader may set, in combinations no single reader makes."""
    rng = np.random.default_rng(3)
    boxes = rng.uniform(0, 500, (3, 4)).astype(np.float32)
    boxes[:, 2:] += boxes[:, :2]
    return [
        Record("a/1.jpg", "a\\1.jpg", 640, 480, boxes, np.array([0, 2, 1], np.int32),
               landmarks=rng.uniform(0, 500, (3, 5, 2)).astype(np.float32), dropped={"zero_size": 2}),
        Record("b/2.jpg", "b/2.jpg", None, None),                                 # no size, no box
        Record("c/3.jpg", "c/3.jpg", 70000, 5, boxes[:1], np.array([300], np.int32),
               ignore=np.array([box(1, 2, 3, 4)], np.float32), ignore_labels=np.array([7], np.int32),
               attributes={"blur": np.array([2], np.int32)}, file="c/3.png"),
        Record("d/4.jpg", "d/4.jpg", 10, None, boxes[:2], np.zeros(2, np.int32),
               attributes=BoxAttributes(("pose", "occlusion"), np.array([[1, 0], [0, 200]], np.int32))),
        Record("e/ü 5.jpg", "e/ü 5.jpg", 1, 1, boxes[2:], np.array([1], np.int32), ignore=NO_BOXES,
               ignore_labels=NO_LABELS, attributes={"blur": np.array([-40000], np.int32)}),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 4096])
def test_packed_records_are_the_records_they_were_packed_from(chunk):
    records = odd_records()
    packed = packed_records(iter(records), chunk)
    assert isinstance(packed, PackedRecords) and len(packed) == len(records)
    assert len(packed.parts) == -(-len(records) // chunk)
    for i, want in enumerate(records):
        assert_same(packed[i], want)
        assert packed.key(i) == want.key
    for got, want in zip(packed, records):
        assert_same(got, want)
    assert_same(packed[-1], records[-1])
    assert [r.key for r in packed[1:4]] == [r.key for r in records[1:4]]
    assert packed.sized().tolist() == [True, False, True, False, True]
    with pytest.raises(IndexError):
        packed[len(records)]


def test_a_packed_record_cannot_be_changed_in_place():
    record = packed_records(odd_records())[0]
    with pytest.raises(ValueError, match="read-only"):
        record.boxes[0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        record.landmarks[0, 0, 0] = 1


def test_a_table_pickles_whole():
    table = RecordTable.pack(odd_records())
    again = pickle.loads(pickle.dumps(table))
    for i, want in enumerate(odd_records()):
        assert_same(again.record(i), want)


def test_landmarks_must_go_with_the_boxes():
    bad = Record("x", "x", 5, 5, np.zeros((2, 4), np.float32), np.zeros(2, np.int32),
                 landmarks=np.zeros((1, 5, 2), np.float32))
    with pytest.raises(ValueError, match="landmarks must be"):
        RecordTable.pack([bad])


@pytest.mark.parametrize("fmt, name", [("coco", "coco_excerpt.json"), ("voc", "voc/Annotations"), ("yolo", "yolo/data.yaml"),
                                       ("celeba", "celeba"), ("wider", "wider_train_excerpt.txt"),
                                       ("facepoints", "facepoints_excerpt.txt")])
def test_every_readers_records_survive_packing(fmt, name):
    records = list(read_dataset(fmt, DATA / name).records)
    assert records
    for got, want in zip(packed_records(records, 2), records):
        assert_same(got, want)


def test_the_face_readers_pack_their_records(shared_data):
    """WIDER train as the parent holds it: a few hundred bytes a record, not ~1.1 KB of objects."""
    dataset = read_dataset("wider", shared_data / "wider" / "wider_face_train_bbx_gt.txt")
    records = dataset.records
    assert isinstance(records, PackedRecords) and len(records) == 12880
    arrays = sum(v.nbytes for part in records.parts for v in vars(part).values() if isinstance(v, np.ndarray))
    text = sum(len(part.keys.data) for part in records.parts)
    assert (arrays + text) / len(records) < 450
    assert sum(r.num_boxes for r in records) + sum(r.ignore.shape[0] for r in records) + \
        sum(sum(r.dropped.values()) for r in records) == 159424   # the published total (reader docstring)
    points = read_dataset("facepoints", shared_data / "facepoint" / "trainImageList.txt").records
    assert isinstance(points, PackedRecords) and len(points) == 10000
    assert all(r.landmarks is not None and r.landmarks.shape == (r.num_boxes, 5, 2) for r in points[:50])
