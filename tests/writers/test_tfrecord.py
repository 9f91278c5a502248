"""TFRecord framing, hand-encoded tf.train.Example bytes and the AITTSMD schema, checked against
independent implementations: the `tfrecord` package (its reader and protobuf classes) and the
`crc32c` package for the CRCs."""
from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from samplegen.pipelines.mtcnn_tfrecord import (PER_CLASS_GROUPS, TFRecordSink, merge_mtcnn_tfrecords, merged_names,
                                           mtcnn_example)
from samplegen.mtcnn.labels import CLASS_CODES, LANDMARK, NEG, PART, POS
from samplegen import read_mtcnn
from samplegen.rng import rng_for
from samplegen.writers.tf_example import (bytes_feature, example_bytes, float_feature, int64_feature, parse_example,
                                         varint)
from samplegen.writers.tfrecord import (TFRecordShardWriter, frame_record, masked_crc32c, merge_records,
                                        read_records)

tfrecord = pytest.importorskip("tfrecord", reason="the independent reader: pip install tfrecord (test extra)")
crc32c = pytest.importorskip("crc32c", reason="installed with tfrecord")
from tfrecord import example_pb2  # noqa: E402
from tfrecord.reader import tfrecord_iterator, tfrecord_loader  # noqa: E402

AITTSMD_SPEC = {"image/encoded": "byte", "image/label": "int", "image/roi": "float", "image/landmark": "float"}


def independent_masked_crc(data: bytes) -> int:
    """TensorFlow's mask (record_writer.cc), restated over the `crc32c` package's CRC32C."""
    crc = crc32c.crc32c(bytes(data))
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def independent_frames(path: Path) -> list[bytes]:
    """Parse a file's framing by hand and check both CRCs with the independent CRC32C."""
    data, pos, payloads = path.read_bytes(), 0, []
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        assert struct.unpack_from("<I", data, pos + 8)[0] == independent_masked_crc(data[pos:pos + 8])
        payload = data[pos + 12:pos + 12 + length]
        assert struct.unpack_from("<I", data, pos + 12 + length)[0] == independent_masked_crc(payload)
        payloads.append(payload)
        pos += 16 + length
    assert pos == len(data)
    return payloads


@pytest.fixture(scope="module")
def packed_out(tmp_path_factory) -> Path:
    """A real packed output of the embedded sample (91 crops of 4 classes) in one shard."""
    out = tmp_path_factory.mktemp("packed") / "out"
    subprocess.run([sys.executable, "-m", "samplegen", "mtcnn", "--size", "12", "--out", str(out), "--no-progress",
                    "--shards", "1"], check=True, capture_output=True)
    return out


@dataclass(frozen=True)
class Rows:
    """The CropPlan columns a TFRecordSink reads (cls int8 [K], roi float32 [K, 4], landmark [K, 10])."""

    cls: np.ndarray
    roi: np.ndarray
    landmark: np.ndarray

    def __len__(self) -> int:
        return len(self.cls)


def select(rows: Rows, idx: np.ndarray) -> Rows:
    return Rows(rows.cls[idx], rows.roi[idx], rows.landmark[idx])


def packed_plan(out: Path) -> tuple[Rows, np.ndarray]:
    """The packed shard as (plan columns, crops uint8 [N, 12, 12, 3]) — what the job hands a sink."""
    labels = np.load(out / "pnet-000000.labels.npz")
    return Rows(labels["cls"], labels["roi"], labels["landmark"]), np.load(out / "pnet-000000.images.npy")


def expected_record(sample: dict) -> tuple:
    """What AITTSMD's generator writes for a read_mtcnn sample: roi only for pos/part, landmark
    only for landmark samples, zeros elsewhere."""
    cls = sample["cls"]
    roi = sample["roi"] if cls in (POS, PART) else np.zeros(4, np.float32)
    landmark = sample["landmark"] if cls == LANDMARK else np.zeros(10, np.float32)
    return (sample["image"].tobytes(), cls, roi.astype(np.float32).tobytes(), landmark.astype(np.float32).tobytes())


def loaded_record(record: dict) -> tuple:
    return (bytes(record["image/encoded"]), int(record["image/label"][0]),
            record["image/roi"].astype(np.float32).tobytes(), record["image/landmark"].astype(np.float32).tobytes())


def test_example_bytes_match_protobuf_deterministic_serialisation():
    features = {"b": bytes_feature([b"", b"\x00\xffab"]), "a/int": int64_feature([-2, 0, 1, 2**40]),
                "f": float_feature(np.array([0.5, -1.25, 3e-8], np.float32)), "empty": float_feature([]),
                "z": int64_feature([])}
    reference = example_pb2.Example()
    feature = reference.features.feature
    feature["b"].bytes_list.value.extend([b"", b"\x00\xffab"])
    feature["a/int"].int64_list.value.extend([-2, 0, 1, 2**40])
    feature["f"].float_list.value.extend(np.array([0.5, -1.25, 3e-8], np.float32).tolist())
    feature["empty"].float_list.SetInParent()
    feature["z"].int64_list.SetInParent()
    assert example_bytes(features) == reference.SerializeToString(deterministic=True)
    parsed = parse_example(example_bytes(features))
    assert parsed["b"] == [b"", b"\x00\xffab"] and parsed["a/int"].tolist() == [-2, 0, 1, 2**40]
    assert parsed["f"].tolist() == np.array([0.5, -1.25, 3e-8], np.float32).tolist()
    assert parsed["empty"].shape == (0,) and parsed["z"].shape == (0,)


def test_varint_boundaries():
    # protobuf encoding spec examples: 1 -> 01, 150 -> 96 01, 300 -> ac 02
    assert [varint(v) for v in (0, 1, 127, 128, 150, 300)] == [b"\x00", b"\x01", b"\x7f", b"\x80\x01", b"\x96\x01",
                                                             b"\xac\x02"]
    assert varint(16383) == b"\xff\x7f" and varint(16384) == b"\x80\x80\x01"
    assert varint(2**64 - 1) == b"\xff" * 9 + b"\x01"
    with pytest.raises(ValueError):
        varint(2**64)


def test_example_bytes_do_not_depend_on_key_order():
    one = {"x": int64_feature([1]), "a": float_feature([2.0])}
    assert example_bytes(one) == example_bytes(dict(reversed(list(one.items()))))


def test_framing_matches_the_independent_reader_and_crc(tmp_path):
    payloads = [b"", b"x", bytes(range(256)) * 40]
    writer = TFRecordShardWriter(tmp_path, "s-000000")
    for payload in payloads:
        writer.add(payload)
    (shard,) = writer.commit()
    assert shard.name == "s-000000.tfrecord"
    assert shard.bytes == sum(16 + len(p) for p in payloads) == (tmp_path / shard.name).stat().st_size
    assert independent_frames(tmp_path / shard.name) == payloads
    assert [bytes(v) for v in tfrecord_iterator(str(tmp_path / shard.name))] == payloads
    assert list(read_records(tmp_path / shard.name)) == payloads
    assert masked_crc32c(b"123456789") == independent_masked_crc(b"123456789")


@pytest.mark.parametrize("where,message", [(3, "length CRC"), (12 + 5, "payload CRC"), (-2, "payload CRC")])
def test_a_flipped_byte_fails_the_crc(tmp_path, where, message):
    path = tmp_path / "r.tfrecord"
    path.write_bytes(frame_record(b"hello tfrecord") + frame_record(b"second"))
    data = bytearray(path.read_bytes())
    data[where] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=message):
        list(read_records(path))
    with pytest.raises(AssertionError):
        independent_frames(path)


def test_a_truncated_file_is_refused(tmp_path):
    path = tmp_path / "r.tfrecord"
    path.write_bytes(frame_record(b"hello tfrecord")[:-3])
    with pytest.raises(ValueError, match="record 0 at byte 0: truncated payload"):
        list(read_records(path))


def test_aittsmd_features_of_every_sample(packed_out, tmp_path):
    plan, crops = packed_plan(packed_out)
    sink = TFRecordSink(tmp_path, "pnet-000000", "mixed", seed=0)
    sink.add(plan, crops, ["img"])
    (shard,) = sink.commit(["img"])
    loaded = [loaded_record(r) for r in tfrecord_loader(str(tmp_path / shard.name), None, AITTSMD_SPEC)]
    expected = [expected_record(s) for s in read_mtcnn(packed_out)]
    assert len(loaded) == len(expected) == 91
    assert sorted(loaded) == sorted(expected)
    assert loaded != expected  # the shard is shuffled ...
    order = rng_for(0, "tfrecord:pnet-000000").permutation(91)
    assert loaded == [expected[i] for i in order]  # ... by the shard's own seeded generator
    landmark_rows = [r for r in loaded if r[1] == LANDMARK]
    assert landmark_rows and all(np.frombuffer(r[2], np.float32).tolist() == [0.0] * 4 for r in landmark_rows)
    assert any(np.frombuffer(r[3], np.float32).any() for r in landmark_rows)


def test_per_class_split_writes_one_file_per_class(packed_out, tmp_path):
    plan, crops = packed_plan(packed_out)
    sink = TFRecordSink(tmp_path, "pnet-000000", "per-class", seed=0)
    sink.add(plan, crops, ["img"])
    files = sink.commit(["img"])
    assert [f.name for f in files] == [f"pnet-000000.{g}.tfrecord" for g in PER_CLASS_GROUPS]
    expected = [expected_record(s) for s in read_mtcnn(packed_out)]
    for group, shard in zip(PER_CLASS_GROUPS, files):
        loaded = [loaded_record(r) for r in tfrecord_loader(str(tmp_path / shard.name), None, AITTSMD_SPEC)]
        assert sorted(loaded) == sorted(e for e in expected if e[1] == CLASS_CODES[group])


def test_shard_bytes_depend_only_on_samples_and_seed(packed_out, tmp_path):
    plan, crops = packed_plan(packed_out)
    digests = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        (tmp_path / name).mkdir()
        sink = TFRecordSink(tmp_path / name, "pnet-000000", "mixed", seed)
        half = len(plan) // 2  # fed in two image-sized pieces, as the job does
        sink.add(select(plan, np.arange(half)), crops[:half], ["i"])
        sink.add(select(plan, np.arange(half, len(plan))), crops[half:], ["i"])
        digests.append(sink.commit(["i"])[0].sha256)
    assert digests[0] == digests[1] != digests[2]


def test_merge_joins_shards_permuted_by_the_seed(tmp_path):
    names = []
    for index, payloads in enumerate([[b"a", b"b", b"c"], [], [b"d", b"e"]]):
        writer = TFRecordShardWriter(tmp_path, f"s-{index:06d}")
        for payload in payloads:
            writer.add(payload)
        names.append(writer.commit()[0].name)
    plain = merge_records(tmp_path, names, "all.tfrecord")
    assert list(read_records(tmp_path / plain.name)) == [b"a", b"b", b"c", b"d", b"e"]
    shuffled = merge_records(tmp_path, names, "mix.tfrecord", np.random.default_rng(7))
    order = np.random.default_rng(7).permutation(5)
    assert list(read_records(tmp_path / shuffled.name)) == [[b"a", b"b", b"c", b"d", b"e"][i] for i in order]
    again = merge_records(tmp_path, names, "mix2.tfrecord", np.random.default_rng(7))
    assert again.sha256 == shuffled.sha256


def test_merge_refuses_a_corrupted_shard_and_writes_nothing(tmp_path):
    (tmp_path / "a.tfrecord").write_bytes(frame_record(b"one") + frame_record(b"two"))
    data = bytearray(frame_record(b"three"))
    data[-1] ^= 0x80
    (tmp_path / "b.tfrecord").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="b.tfrecord: record 0 at byte 0: payload CRC mismatch"):
        merge_records(tmp_path, ["a.tfrecord", "b.tfrecord"], "all.tfrecord", np.random.default_rng(0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tfrecord", "b.tfrecord"]


def test_merged_aittsmd_files(packed_out, tmp_path):
    plan, crops = packed_plan(packed_out)
    stems = ["pnet-000000", "pnet-000001"]
    for stem, rows in zip(stems, (np.arange(40), np.arange(40, len(plan)))):
        sink = TFRecordSink(tmp_path, stem, "per-class", seed=3)
        sink.add(select(plan, rows), crops[rows], ["i"])
        sink.commit(["i"])
    merged = merge_mtcnn_tfrecords(tmp_path, stems, 12, "per-class", seed=3)
    assert [f.name for f in merged] == list(merged_names(12, "per-class").values())
    assert merged[0].name == "pos_landmark.tfrecord_shuffle"
    expected = [expected_record(s) for s in read_mtcnn(packed_out)]
    for group, shard in zip(PER_CLASS_GROUPS, merged):
        loaded = [loaded_record(r) for r in tfrecord_loader(str(tmp_path / shard.name), None, AITTSMD_SPEC)]
        assert sorted(loaded) == sorted(e for e in expected if e[1] == CLASS_CODES[group])
    assert merged_names(12, "mixed") == {"": "train_PNet_landmark.tfrecord_shuffle"}
    assert merged_names(48, "mixed") == {"": "train_ONet_landmark.tfrecord_shuffle"}


def test_empty_shard_gives_valid_empty_files(tmp_path):
    writer = TFRecordShardWriter(tmp_path, "s-000000", ("pos", "neg"))
    files = writer.commit(np.random.default_rng(0))
    assert [(f.name, f.bytes) for f in files] == [("s-000000.pos.tfrecord", 0), ("s-000000.neg.tfrecord", 0)]
    assert list(read_records(tmp_path / files[0].name)) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-000000.neg.tfrecord", "s-000000.pos.tfrecord"]


def test_abort_leaves_nothing(tmp_path):
    writer = TFRecordShardWriter(tmp_path, "s-000000")
    writer.add(b"payload")
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_unknown_group_and_bad_crop_are_refused(tmp_path):
    writer = TFRecordShardWriter(tmp_path, "s-000000", ("pos",))
    with pytest.raises(ValueError, match="unknown group"):
        writer.add(b"x", "neg")
    writer.abort()
    with pytest.raises(ValueError, match="uint8"):
        mtcnn_example(np.zeros((12, 12, 3), np.float32), NEG, np.zeros(4), np.zeros(10))


def test_negative_sample_record_is_zeros():
    crop = np.arange(12 * 12 * 3, dtype=np.uint8).reshape(12, 12, 3)
    parsed = parse_example(mtcnn_example(crop, NEG, np.ones(4, np.float32), np.ones(10, np.float32)))
    assert parsed["image/encoded"] == [crop.tobytes()] and parsed["image/label"].tolist() == [NEG]
    assert parsed["image/roi"].tolist() == [0.0] * 4 and parsed["image/landmark"].tolist() == [0.0] * 10
