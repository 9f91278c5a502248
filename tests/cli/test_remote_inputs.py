"""Inputs from object storage: ``--annotations``, ``--images``, ``--landmarks``, ``--landmark-images``,
``--detections`` and ``--proposals`` as ``s3://`` URLs (a local S3 server, moto) and ``file://``
URLs. A run reading its inputs there writes the bytes of the same run on local paths; only the
manifest's ``inputs[].path`` differs (it names each input as it was given). Mistakes are one line
naming the URL. Skipped without moto/s3fs."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from samplegen import embedded
from tests.cli.helpers import ok, run_cli, run_inproc, tree_bytes
from tests.engine import s3

if not s3.AVAILABLE:
    pytest.skip(s3.SKIP_REASON, allow_module_level=True)

MTCNN = ["mtcnn", "--size", "12", "--shard-size", "4", "--no-progress"]
EMBEDDED_PHOTOS = ("astronaut.jpg", "grace_hopper.jpg")


@pytest.fixture(scope="module")
def server():
    return s3.S3Server.start()


def upload(server: s3.S3Server, url: str, source: Path) -> str:
    """Put the file `source`, or every file under the folder `source`, at `url`; returns `url`."""
    if source.is_file():
        server.put(url, source.read_bytes())
    else:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                server.put(f"{url}/{path.relative_to(source).as_posix()}", path.read_bytes())
    return url


def same_run(local: dict[str, bytes], remote: dict[str, bytes], given: dict[str, str]) -> None:
    """Every shard byte-identical; the manifests identical but for the input paths, which are
    the locations as given (`given`: role -> location)."""
    assert sorted(remote) == sorted(local)
    assert {k: v for k, v in remote.items() if k != "manifest.json"} == \
           {k: v for k, v in local.items() if k != "manifest.json"}
    mine, theirs = json.loads(remote["manifest.json"]), json.loads(local["manifest.json"])
    assert {i["role"]: i["path"] for i in mine["inputs"]} == given
    for manifest in (mine, theirs):
        for entry in manifest["inputs"]:
            entry.pop("path")
    assert mine == theirs


def test_a_wider_run_reading_everything_from_s3_is_the_local_run(server, wider_args, wider_subset, dlib, lm_config,
                                                                  tmp_path):
    """The cluster-shaped run: annotations, images, facial points and their photos in S3, the
    shards written back to S3, two workers; the WIDER sizes come from the objects' headers."""
    ok(run_inproc([*MTCNN, *wider_args, "--out", tmp_path / "local", "--workers", "1"]))
    bucket = f"s3://{server.bucket()}"
    ann, images = wider_subset
    given = {"annotations": upload(server, f"{bucket}/wider/wider_face_train_bbx_gt.txt", ann),
             "landmarks": upload(server, f"{bucket}/dlib/trainImageList.txt", dlib["points"])}
    image_root = upload(server, f"{bucket}/wider/images", images)
    point_root = f"{bucket}/dlib/photos"
    for photo in sorted(dlib["root"].glob("*.jpg")):
        server.put(f"{point_root}/{photo.name}", photo.read_bytes())
    out = f"{bucket}/out/pnet"
    summary = ok(run_cli([*MTCNN, "--annotations", given["annotations"], "--format", "wider", "--images", image_root,
                          "--landmarks", given["landmarks"], "--landmark-images", point_root, "--config", lm_config,
                          "--out", out, "--workers", "2"]))
    assert summary["skipped_images"] == 0 and summary["counts"]["landmark"] > 0
    same_run(tree_bytes(tmp_path / "local"), server.objects(out), given)


def test_detect_and_anchors_read_s3_inputs(server, tmp_path):
    bucket = f"s3://{server.bucket()}"
    root = f"{bucket}/photos"
    for name in (EMBEDDED_PHOTOS + (embedded.WIDER.name, embedded.COCO.name)):
        upload(server, f"{root}/{name}", embedded.ROOT / name)
    wider = f"{root}/{embedded.WIDER.name}"
    coco = f"{root}/{embedded.COCO.name}"
    detect = ["detect", "--format", "wider", "--pnet", embedded.PNET, "--rnet", embedded.RNET, "--shard-size", "1",
              "--no-progress", "--workers", "2"]
    ok(run_inproc([*detect, "--annotations", embedded.WIDER, "--images", embedded.ROOT, "--out", tmp_path / "d"]))
    ok(run_inproc([*detect, "--annotations", wider, "--images", root, "--out", tmp_path / "d-s3"]))
    same_run(tree_bytes(tmp_path / "d"), tree_bytes(tmp_path / "d-s3"),
             {"annotations": wider, "pnet": str(embedded.PNET), "rnet": str(embedded.RNET)})
    anchors = ["anchors", "--method", "ssd300", "--format", "coco", "--with-images", "--shard-size", "1",
               "--no-progress", "--workers", "1"]
    ok(run_inproc([*anchors, "--annotations", embedded.COCO, "--images", embedded.ROOT, "--out", tmp_path / "a"]))
    ok(run_inproc([*anchors, "--annotations", coco, "--images", root, "--out", tmp_path / "a-s3"]))
    same_run(tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "a-s3"), {"annotations": coco})
    show = ["show", "anchors", "--method", "ssd300", "--format", "coco"]
    ok(run_inproc([*show, "--annotations", embedded.COCO, "--images", embedded.ROOT, "--out", tmp_path / "a.png"]))
    ok(run_inproc([*show, "--annotations", coco, "--images", root, "--out", tmp_path / "a-s3.png"]))
    assert (tmp_path / "a-s3.png").read_bytes() == (tmp_path / "a.png").read_bytes()


def test_hard_examples_from_a_detect_folder_in_s3(server, tmp_path):
    """``detect --out s3://...`` then ``mtcnn --size 24 --detections s3://...``: the two-step
    cascade with the detections kept in object storage."""
    dets = f"s3://{server.bucket()}/dets"
    detect = ["detect", "--shard-size", "1", "--no-progress", "--workers", "1"]
    ok(run_inproc([*detect, "--out", dets]))
    ok(run_inproc([*detect, "--out", tmp_path / "dets"]))
    hard = ["mtcnn", "--size", "24", "--annotations", embedded.WIDER, "--format", "wider", "--images", embedded.ROOT,
            "--shard-size", "1", "--no-progress", "--workers", "1"]
    ok(run_inproc([*hard, "--detections", tmp_path / "dets", "--out", tmp_path / "local"]))
    ok(run_inproc([*hard, "--detections", dets, "--out", tmp_path / "remote"]))
    same_run(tree_bytes(tmp_path / "local"), tree_bytes(tmp_path / "remote"),
             {"annotations": str(embedded.WIDER), "detections": dets})


def test_file_urls_are_the_plain_paths(tmp_path):
    args = [*MTCNN, "--format", "wider", "--workers", "1"]
    ok(run_inproc([*args, "--annotations", embedded.WIDER, "--images", embedded.ROOT, "--out", tmp_path / "paths"]))
    ok(run_inproc([*args, "--annotations", embedded.WIDER.as_uri(), "--images", embedded.ROOT.as_uri(),
                   "--out", tmp_path / "urls"]))
    assert tree_bytes(tmp_path / "urls") == tree_bytes(tmp_path / "paths")


def _jpeg_with_large_exif(pixels: np.ndarray, padding: int) -> bytes:
    """A JPEG whose frame header follows `padding` bytes of APP1 segments (a large EXIF block)."""
    data = cv2.imencode(".jpg", pixels)[1].tobytes()
    segments = b""
    while padding > 0:
        body = min(padding, 60000)
        segments += b"\xff\xe1" + struct.pack(">H", body + 2) + b"\0" * body
        padding -= body
    return data[:2] + segments + data[2:]


def test_sizes_are_read_from_the_objects_even_behind_a_large_exif_block(server):
    bucket = f"s3://{server.bucket()}"
    rng = np.random.default_rng(0)
    server.put(f"{bucket}/images/small.jpg", _jpeg_with_large_exif(rng.integers(0, 255, (48, 64, 3), np.uint8), 0))
    server.put(f"{bucket}/images/exif.jpg", _jpeg_with_large_exif(rng.integers(0, 255, (40, 72, 3), np.uint8), 90000))
    server.put(f"{bucket}/ann.txt", b"small.jpg\n1\n1 1 20 20 0 0 0 0 0 0\nexif.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n"
                                    b"gone.jpg\n1\n1 1 20 20 0 0 0 0 0 0\n")
    stats = ok(run_cli(["inspect", f"{bucket}/ann.txt", "--format", "wider", "--images", f"{bucket}/images"]))
    assert stats["source"] == f"{bucket}/ann.txt"
    assert stats["images"] == 3 and stats["images_with_size"] == 2   # gone.jpg: no object, no size


def test_an_image_missing_from_the_bucket_is_a_counted_skip(server, tmp_path):
    bucket = f"s3://{server.bucket()}"
    server.put(f"{bucket}/ann.txt", embedded.WIDER.read_bytes())
    server.put(f"{bucket}/images/astronaut.jpg", (embedded.ROOT / "astronaut.jpg").read_bytes())
    args = [*MTCNN, "--annotations", f"{bucket}/ann.txt", "--format", "wider", "--images", f"{bucket}/images",
            "--workers", "1"]
    strict = run_cli([*args, "--out", tmp_path / "strict"])
    assert strict.code == 1 and strict.stderr.startswith(
        "samplegen: 1 images could not be used ({'no_size': 1}; e.g. grace_hopper.jpg: no_size), more than --max-errors 0")
    summary = ok(run_cli([*args, "--out", tmp_path / "out", "--max-errors", "1"]))
    assert summary["images"] == 1 and summary["skipped_images"] == 1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["skipped_images"] == [{"image": "grace_hopper.jpg", "reason": "no_size"}]


def test_input_mistakes_are_one_line_naming_the_url(server, tmp_path):
    bucket = f"s3://{server.bucket()}"
    images = f"{bucket}/images"
    for name in EMBEDDED_PHOTOS:
        upload(server, f"{images}/{name}", embedded.ROOT / name)

    def refused(annotations: str, root: str = images, format: str = "wider") -> str:
        result = run_cli([*MTCNN, "--annotations", annotations, "--format", format, "--images", root,
                          "--out", tmp_path / "never"])
        assert result.code == 2, result.stderr
        assert result.stdout == "" and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert not (tmp_path / "never").exists()
        return result.stderr.strip()

    assert refused(f"{bucket}/nothing.txt") == f"samplegen: {bucket}/nothing.txt: no such object or prefix"
    server.put(f"{bucket}/broken.txt", b"astronaut.jpg\n1\n182 80 84 x 0 0 0 0 0 0\n")
    assert refused(f"{bucket}/broken.txt").startswith(f"samplegen: {bucket}/broken.txt:3: ")
    server.put(f"{bucket}/escape.txt", b"../secret/astronaut.jpg\n1\n182 80 84 98 0 0 0 0 0 0\n")
    assert refused(f"{bucket}/escape.txt") == (f"samplegen: {bucket}/escape.txt:1: image path '../secret/astronaut.jpg' "
                                               f"escapes the images root '{images}'")
    wider = upload(server, f"{bucket}/{embedded.WIDER.name}", embedded.WIDER)
    assert refused(wider, f"{bucket}/elsewhere").startswith(
        f"samplegen: {bucket}/elsewhere: none of the 2 images of {wider} are under this folder")
    upload(server, f"{bucket}/yolo", Path(__file__).resolve().parents[1] / "data" / "annotations" / "yolo")
    assert "YOLO dataset is found through its folder layout" in refused(f"{bucket}/yolo", format="yolo")


def test_downloaded_inputs_leave_no_folder_and_a_killed_runs_copies_are_swept(server, tmp_path):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    temp = Path(tempfile.gettempdir())
    killed = temp / f"samplegen-inputs-{int(ended.stdout)}-leftover"   # a run killed with SIGKILL
    live = temp / f"samplegen-inputs-{os.getppid()}-running"             # a run still going
    for folder in (killed, live):
        (folder / "0").mkdir(parents=True)
    try:
        bucket = f"s3://{server.bucket()}"
        upload(server, f"{bucket}/ann.txt", embedded.WIDER)
        ok(run_inproc([*MTCNN, "--annotations", f"{bucket}/ann.txt", "--format", "wider", "--images", embedded.ROOT,
                       "--workers", "1", "--out", tmp_path / "out"]))
        assert not killed.exists() and live.exists()
        assert not list(temp.glob(f"samplegen-inputs-{os.getpid()}-*"))
    finally:
        for folder in (killed, live):
            shutil.rmtree(folder, ignore_errors=True)


def test_a_voc_annotations_folder_is_read_from_its_prefix(server):
    voc = Path(__file__).resolve().parents[1] / "data" / "annotations" / "voc" / "Annotations"
    url = upload(server, f"s3://{server.bucket()}/voc/Annotations", voc)
    local = ok(run_cli(["inspect", voc, "--format", "voc"]))
    remote = ok(run_cli(["inspect", url, "--format", "voc"]))
    assert remote.pop("source") == url
    local.pop("source")
    assert remote == local and remote["images"] > 0


def test_written_paths_name_the_objects_their_files_would_be(server, tmp_path):
    """``./a.jpg`` and ``.//b.jpg`` are the files a.jpg and b.jpg on disk: the same objects."""
    bucket = f"s3://{server.bucket()}"
    for name in EMBEDDED_PHOTOS:
        upload(server, f"{bucket}/images/{name}", embedded.ROOT / name)
    text = embedded.WIDER.read_text().replace("astronaut.jpg", "./astronaut.jpg") \
        .replace("grace_hopper.jpg", ".//grace_hopper.jpg")
    (tmp_path / "ann.txt").write_text(text)
    args = [*MTCNN, "--annotations", tmp_path / "ann.txt", "--format", "wider", "--workers", "1"]
    ok(run_inproc([*args, "--images", embedded.ROOT, "--out", tmp_path / "local"]))
    ok(run_inproc([*args, "--images", f"{bucket}/images", "--out", tmp_path / "remote"]))
    assert tree_bytes(tmp_path / "remote") == tree_bytes(tmp_path / "local")


def test_an_empty_image_object_has_no_size_like_an_empty_file(server, tmp_path):
    bucket = f"s3://{server.bucket()}"
    upload(server, f"{bucket}/images/astronaut.jpg", embedded.ROOT / "astronaut.jpg")
    server.put(f"{bucket}/images/grace_hopper.jpg", b"")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "astronaut.jpg").write_bytes((embedded.ROOT / "astronaut.jpg").read_bytes())
    (tmp_path / "images" / "grace_hopper.jpg").write_bytes(b"")
    local = ok(run_cli(["inspect", embedded.WIDER, "--format", "wider", "--images", tmp_path / "images"]))
    remote = ok(run_cli(["inspect", embedded.WIDER, "--format", "wider", "--images", f"{bucket}/images"]))
    assert remote == local and remote["images_with_size"] == 1


def test_celeba_comes_from_its_folder_url_with_its_landmarks(server):
    celeba = Path(__file__).resolve().parents[1] / "data" / "annotations" / "celeba"
    url = upload(server, f"s3://{server.bucket()}/celeba/Anno", celeba)
    local, remote = (ok(run_cli(["inspect", where, "--format", "celeba"])) for where in (celeba, url))
    assert remote.pop("source") == url
    local.pop("source")
    assert remote == local and remote["landmarks"] > 0
    one_file = run_cli(["inspect", f"{url}/list_bbox_celeba.txt", "--format", "celeba"])
    assert one_file.code == 2 and one_file.stderr == (
        f"samplegen: {url}/list_bbox_celeba.txt: read celeba from object storage through its folder URL "
        "(the one holding list_bbox_celeba.txt and list_landmarks_celeba.txt)\n")


def test_url_mistakes_of_the_environment_are_one_line(tmp_path):
    bare = run_cli(["inspect", "s3://", "--format", "wider"])
    assert bare.code == 2 and bare.stderr == "samplegen: s3://: names no bucket or object\n"
    unreachable = run_cli(["inspect", "s3://bucket/ann.txt", "--format", "wider"],
                          env={"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"})
    assert unreachable.code == 1 and unreachable.stderr.count("\n") == 1, unreachable.stderr
    assert unreachable.stderr.startswith("samplegen: s3://bucket/ann.txt: Could not connect to the endpoint URL")
