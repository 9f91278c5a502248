"""Every consumer loads every sample of a real run, unchanged, with its label, roi and landmarks.

Real runs (the dlib photos; the WIDER subset with the dlib facial points), sizes 12 and 48, in
the default shard plan. The packed output of the same run is the reference (its samples are
re-derived from the sources in test_mtcnn_cmd.py); each consumer below loads another layout
the way the trainer does (`trainer_rules` restates the trainers' loaders) and must meet it:

- PyTorch: `MtcnnPackedDataset` (map-style) and `MtcnnWdsDataset` (iterable), DataLoader(num_workers=2);
- TensorFlow / AITTSMD: the merged TFRecords through the `tfrecord` package with AITTSMD's
  feature spec, and the line count its train.py reads;
- AITTSMD lists (``--list-style aittsmd``) through gen_imglist + get_dataset + cv2.imread;
- DFace lists (``--list-style dface``) through ImageDB.load_annotations + cv2.imread;
- webdataset: ``wds.WebDataset(...).decode("rgb8")`` in a DataLoader(num_workers=2).
Trainers run from another working directory: the lists' absolute paths must be enough.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from samplegen.outputs import read_mtcnn
from tests.cli import trainer_rules as rules
from tests.cli.helpers import manifest, ok, run_inproc

POS, NEG, PART, LANDMARK = 1, 0, -1, -2
CASES = [("dlib", 12), ("dlib", 48), ("wider", 12), ("wider", 48)]
LAYOUTS = {"packed": ["--layout", "packed"], "wds": ["--layout", "wds"],
           "tfrecord": ["--layout", "tfrecord"],  # --tfrecord-split per-class added for 24/48
           "aittsmd": ["--layout", "list", "--list-style", "aittsmd"],
           "dface": ["--layout", "list", "--list-style", "dface"]}


class TrainerRuns:
    """One CLI run per (data, size, layout), made on first use and shared by the tests."""

    def __init__(self, base: Path, args: dict[str, list]):
        self.base, self.args, self.cache = base, args, {}

    def out(self, data: str, size: int, layout: str) -> Path:
        key = (data, size, layout)
        if key not in self.cache:
            # AITTSMD's gen_imglist opens DATA/S/pos_S.txt: the output folder is named S
            out = self.base / f"{data}-{size}-{layout}" / "DATA" / str(size)
            extra = ["--tfrecord-split", "per-class"] if layout == "tfrecord" and size != 12 else []
            ok(run_inproc(["mtcnn", "--size", size, *self.args[data], *LAYOUTS[layout], *extra,
                           "--out", out, "--workers", 1]))
            self.cache[key] = out
        return self.cache[key]

    def reference(self, data: str, size: int) -> list[dict]:
        """The packed samples, each with its shard stem and row (the list layouts name files by row)."""
        out = self.out(data, size, "packed")
        stems = [s["files"][0]["name"].split(".")[0] for s in manifest(out)["shards"]
                 for _ in range(s["samples"])]
        rows = Counter()
        samples = []
        for stem, sample in zip(stems, read_mtcnn(out), strict=True):
            samples.append(sample | {"stem": stem, "row": rows[stem]})
            rows[stem] += 1
        return samples


@pytest.fixture(scope="module")
def runs(tmp_path_factory, dlib_args, wider_args) -> TrainerRuns:
    return TrainerRuns(tmp_path_factory.mktemp("trainers"), {"dlib": dlib_args, "wider": wider_args})


@pytest.fixture()
def elsewhere(tmp_path):
    """Run the trainer's loading code from an unrelated working directory."""
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


def key(image: np.ndarray, cls: int, roi, landmark) -> tuple:
    return (np.ascontiguousarray(image).tobytes(), int(cls), np.asarray(roi, np.float32).tobytes(),
            np.asarray(landmark, np.float32).tobytes())


def aittsmd_targets(sample: dict) -> tuple[np.ndarray, np.ndarray]:
    """roi for pos/part only, landmark for landmark samples only: AITTSMD's lists and records."""
    cls = sample["cls"]
    roi = sample["roi"] if cls in (POS, PART) else np.zeros(4, np.float32)
    landmark = sample["landmark"] if cls == LANDMARK else np.zeros(10, np.float32)
    return roi, landmark


def test_reference_runs_are_balanced_and_sharded(runs):
    for data, size in CASES:
        samples = runs.reference(data, size)
        counts = Counter(s["cls"] for s in samples)
        unit = counts[POS]
        assert unit > 0 and counts == {POS: unit, NEG: 3 * unit, PART: unit, LANDMARK: 2 * unit}
        m = manifest(runs.out(data, size, "packed"))
        # the default plan: min(16, images) balanced shards on these small inputs
        assert len(m["shards"]) == min(16, m["totals"]["images"]) >= 8
        assert m["plan"]["channel_order"] == "bgr"


def numpy_items(batch: list) -> list[tuple]:
    """collate_fn: the items as numpy arrays (pickled back whole; tensors would each take a
    shared-memory segment), so one DataLoader can serve runs of different crop sizes."""
    return [(image.numpy(), label, roi.numpy(), landmark.numpy()) for image, label, roi, landmark in batch]


def loader_keys(torch, dataset) -> list[tuple]:
    """(pixels HWC, label, roi, landmark) of every item a DataLoader(num_workers=2) delivers."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=2, multiprocessing_context="fork",
                                         collate_fn=numpy_items)
    return [key(image.transpose(1, 2, 0), label, roi, landmark)
            for batch in loader for image, label, roi, landmark in batch]


def reference_keys(runs: TrainerRuns) -> list[tuple]:
    return [key(s["image"], s["cls"], s["roi"], s["landmark"]) for data, size in CASES
            for s in runs.reference(data, size)]


def test_pytorch_map_style_dataset(runs):
    torch = pytest.importorskip("torch", reason="samplegen.torch needs PyTorch")
    from samplegen.torch import MtcnnPackedDataset

    datasets = [MtcnnPackedDataset(runs.out(data, size, "packed"), normalize="none") for data, size in CASES]
    assert loader_keys(torch, torch.utils.data.ConcatDataset(datasets)) == reference_keys(runs)  # in output order


def test_pytorch_iterable_dataset(runs):
    torch = pytest.importorskip("torch", reason="samplegen.torch needs PyTorch")
    from samplegen.torch import MtcnnWdsDataset

    datasets = [MtcnnWdsDataset(runs.out(data, size, "wds"), normalize="none") for data, size in CASES]
    got = loader_keys(torch, torch.utils.data.ChainDataset(datasets))
    assert Counter(got) == Counter(reference_keys(runs)) and len(got) == len(reference_keys(runs))


@pytest.mark.parametrize("data,size", CASES)
def test_aittsmd_tfrecords(runs, data, size):
    pytest.importorskip("tfrecord", reason="the independent TFRecord reader: pip install tfrecord (test extra)")
    base = runs.out(data, size, "tfrecord")
    files = rules.aittsmd_tfrecord_files(base, size)
    loaded = {path.name: rules.aittsmd_tfrecord_records(path, size) for path in files}
    records = [r for path in files for r in loaded[path.name]]
    assert rules.aittsmd_train_count(base, size) == len(records)
    expected = [key(s["image"], s["cls"], *aittsmd_targets(s)) for s in runs.reference(data, size)]
    assert Counter(key(r["image"], r["label"], r["roi"], r["landmark"]) for r in records) == Counter(expected)
    if size != 12:  # RNet / ONet: one class per file, in read_multi_tfrecords order
        for path, code in zip(files, (POS, PART, NEG, LANDMARK)):
            assert {r["label"] for r in loaded[path.name]} == {code}


@pytest.mark.parametrize("data,size", CASES)
def test_aittsmd_lists(runs, data, size, elsewhere):
    out = runs.out(data, size, "aittsmd")
    dataset = rules.aittsmd_dataset(rules.aittsmd_imglist(out.parent, size))
    got = [key(np.frombuffer(rules.aittsmd_image_bytes(e["filename"]), np.uint8), e["label"], e["roi"], e["landmark"])
           for e in dataset]
    expected = [key(s["image"].reshape(-1), s["cls"], *aittsmd_targets(s)) for s in runs.reference(data, size)]
    assert Counter(got) == Counter(expected)  # PNG crops: the pixels too
    assert all(os.path.isabs(e["filename"]) for e in dataset)


@pytest.mark.parametrize("data,size", CASES)
def test_dface_lists(runs, data, size, elsewhere):
    import cv2

    out = runs.out(data, size, "dface")
    imdb = rules.dface_load_annotations(out / f"imglist_anno_{size}.txt")
    by_file = {(s["stem"], s["row"]): s for s in runs.reference(data, size)}
    seen = set()
    for entry in imdb:
        relative = Path(entry["image"]).relative_to(out)
        stem, row = relative.parts[0], int(relative.stem)
        s = by_file[(stem, row)]
        seen.add((stem, row))
        assert entry["label"] == s["cls"]
        want_roi = s["roi"] if s["cls"] != NEG else np.zeros(4, np.float32)
        want_landmark = s["landmark"] if s["cls"] == LANDMARK else np.zeros(10, np.float32)
        assert np.float32(entry["bbox_target"]).tobytes() == np.float32(want_roi).tobytes()
        assert np.float32(entry["landmark_target"]).tobytes() == np.float32(want_landmark).tobytes()
        # get_minibatch's cv2.imread gives the JPEG (q95) of the very crop the packed run holds
        jpeg = cv2.imencode(".jpg", s["image"], [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
        assert np.array_equal(cv2.imread(entry["image"]), cv2.imdecode(jpeg, cv2.IMREAD_COLOR))
    assert len(seen) == len(imdb) == len(by_file)
    assert sum(e["label"] == LANDMARK and e["landmark_target"].any() for e in imdb) == \
        sum(s["cls"] == LANDMARK for s in by_file.values())


def test_webdataset_pipeline(runs):
    torch = pytest.importorskip("torch", reason="the DataLoader of a webdataset pipeline")
    wds = pytest.importorskip("webdataset", reason="test extra")

    # every shard of the four runs in one pipeline: one DataLoader, its workers started once
    urls = [str(runs.out(data, size, "wds") / s["files"][0]["name"]) for data, size in CASES
            for s in manifest(runs.out(data, size, "wds"))["shards"]]
    pipeline = (wds.WebDataset(urls, shardshuffle=False, workersplitter=wds.split_by_worker, empty_check=False)
                .decode("rgb8").to_tuple("png", "json").batched(64, collation_fn=list))
    loader = torch.utils.data.DataLoader(pipeline, batch_size=None, num_workers=2, multiprocessing_context="fork")
    got = []
    for image, meta in (item for batch in loader for item in batch):
        roi = meta["roi"] or [0.0] * 4
        landmark = meta["landmark"] or [0.0] * 10
        got.append(key(np.asarray(image)[..., ::-1], meta["cls"], roi, landmark))  # rgb8 is RGB; packed BGR
    assert Counter(got) == Counter(reference_keys(runs))


@pytest.fixture(scope="module")
def ray_data():
    """Ray Data on a local Ray instance of 2 CPUs (the ``ray`` extra brings ``ray[data]``)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'samplegen[ray]')")
    pytest.importorskip("ray.data", reason="Ray Data needs ray[data] (pip install 'samplegen[ray]')")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.data
    if started:
        ray.shutdown()


def test_ray_data_read_webdataset(runs, ray_data):
    # read_webdataset's own decoder: png through PIL (RGB), json as a dict; no decoding by hand
    urls = [str(runs.out(data, size, "wds") / s["files"][0]["name"]) for data, size in CASES
            for s in manifest(runs.out(data, size, "wds"))["shards"]]
    got = []
    for row in ray_data.read_webdataset(urls).iter_rows():
        meta = row["json"]
        roi = meta["roi"] or [0.0] * 4
        landmark = meta["landmark"] or [0.0] * 10
        got.append(key(np.asarray(row["png"])[..., ::-1], meta["cls"], roi, landmark))
    assert Counter(got) == Counter(reference_keys(runs))


@pytest.mark.parametrize("data,size", [("dlib", 12), ("wider", 48)])
def test_tensorflow_reads_the_tfrecords_with_aittsmds_feature_spec(runs, data, size):
    """Dev-only (TensorFlow is no test dependency): tf.data with read_tfrecord_v2.py's parse."""
    tf = pytest.importorskip("tensorflow", reason="dev-only check: TensorFlow is not in the test extra")
    spec = {"image/encoded": tf.io.FixedLenFeature([], tf.string),
            "image/label": tf.io.FixedLenFeature([], tf.int64),
            "image/roi": tf.io.FixedLenFeature([4], tf.float32),
            "image/landmark": tf.io.FixedLenFeature([10], tf.float32)}
    base = runs.out(data, size, "tfrecord")
    files = [str(path) for path in rules.aittsmd_tfrecord_files(base, size)]
    got = []
    for example in tf.data.TFRecordDataset(files).map(lambda raw: tf.io.parse_single_example(raw, spec)):
        image = tf.reshape(tf.io.decode_raw(example["image/encoded"], tf.uint8), [size, size, 3]).numpy()
        got.append(key(image, int(example["image/label"]), example["image/roi"].numpy(),
                       example["image/landmark"].numpy()))
    expected = [key(s["image"], s["cls"], *aittsmd_targets(s)) for s in runs.reference(data, size)]
    assert Counter(got) == Counter(expected)
