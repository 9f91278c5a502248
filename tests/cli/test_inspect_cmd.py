"""`samplegen inspect` end to end: the embedded sample, the real files' counts, errors and exit codes."""
from __future__ import annotations

import json

import pytest

from tests.cli.helpers import ok, run_cli, run_inproc


def _total(stats: dict) -> int:
    return stats["boxes"] + stats["ignored_boxes"] + sum(stats["dropped_boxes"].values())


def test_no_arguments_describes_the_embedded_sample(tmp_path):
    res = run_cli(["inspect"], cwd=tmp_path)
    stats = ok(res)
    assert res.stderr == ""
    assert stats["format"] == "wider"
    assert stats["images"] == 2
    assert stats["boxes"] == 2 and stats["ignored_boxes"] == 0 and stats["dropped_boxes"] == {}
    assert stats["empty_images"] == 0
    assert sum(stats["classes"].values()) == 2
    for key in ("box_size", "classes"):
        assert key in stats
    assert list(tmp_path.iterdir()) == [], "inspect must not write anything"


def test_stdout_is_exactly_one_json_object(shared_data):
    res = run_cli(["inspect", "--format", "coco", shared_data / "coco128/annotations/instances_train2017.json"])
    assert res.code == 0
    decoder = json.JSONDecoder()
    obj, end = decoder.raw_decode(res.stdout)
    assert isinstance(obj, dict)
    assert res.stdout[end:].strip() == "", "anything after the JSON object on stdout"
    assert res.stdout.lstrip().startswith("{")


@pytest.mark.parametrize("name, images, lines, ignored, dropped", [
    ("wider_face_train_bbx_gt.txt", 12880, 159424, 2399, 31),
    ("wider_face_val_bbx_gt.txt", 3226, 39708, None, None),
])
def test_wider_real_files(shared_data, name, images, lines, ignored, dropped):
    """Every box line counted exactly once: usable, ignored (invalid=1) or dropped (w or h <= 0).
    The zero-face images (train: count 0 + placeholder; val: the older count 1 + all-zero line)
    are empty images, not boxes."""
    stats = ok(run_inproc(["inspect", "--format", "wider", shared_data / "wider" / name]))
    assert stats["format"] == "wider"
    assert stats["images"] == images
    assert _total(stats) == lines
    assert stats["empty_images"] == 4
    if ignored is not None:
        assert stats["ignored_boxes"] == ignored
        assert sum(stats["dropped_boxes"].values()) == dropped


def test_coco128(shared_data):
    stats = ok(run_inproc(["inspect", "--format", "coco",
                           shared_data / "coco128/annotations/instances_train2017.json"]))
    assert stats["images"] == 128
    assert stats["boxes"] == 929
    assert stats["ignored_boxes"] == 10
    assert _total(stats) == 939
    assert stats["empty_images"] == 2
    assert sum(stats["classes"].values()) == 929


def test_coco128_yolo(shared_data):
    stats = ok(run_inproc(["inspect", "--format", "yolo", shared_data / "coco128/data.yaml"]))
    assert stats["images"] == 128
    assert stats["empty_images"] == 2
    assert stats["boxes"] == 929
    assert stats["ignored_boxes"] == 0


def test_facepoints_train(shared_data):
    stats = ok(run_inproc(["inspect", "--format", "facepoints", shared_data / "facepoint/trainImageList.txt"]))
    assert stats["boxes"] == 10000
    assert _total(stats) == 10000


def test_malformed_file_one_stderr_line_exit_2(shared_data, tmp_path):
    src = (shared_data / "wider/wider_face_train_bbx_gt.txt").read_text().splitlines()[:40]
    # line 3 is the first box line of the first image: make a field non-numeric
    src[2] = "449 330 abc 149 0 0 0 0 0 0"
    bad = tmp_path / "broken.txt"
    bad.write_text("\n".join(src) + "\n")
    res = run_cli(["inspect", "--format", "wider", bad], cwd=tmp_path)
    assert res.code == 2
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"samplegen: {bad}:3: "), lines[0]
    assert "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.txt"]


def test_malformed_json_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [\n{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},\n')
    res = run_cli(["inspect", "--format", "coco", bad])
    assert res.code == 2 and res.stdout == ""
    assert len(res.stderr.splitlines()) == 1
    assert res.stderr.startswith(f"samplegen: {bad}:"), res.stderr
    assert "Traceback" not in res.stderr


def test_format_defaults_to_auto(shared_data):
    """Without --format the file is read by the reader its first lines point to: the same numbers."""
    path = shared_data / "wider/wider_face_val_bbx_gt.txt"
    auto = ok(run_inproc(["inspect", path]))
    assert auto == ok(run_inproc(["inspect", "--format", "wider", path]))
    res = run_cli(["inspect", shared_data / "lists/sierkinhane_imglist_anno_48.txt"])
    assert res.code == 2 and res.stdout == "" and "MTCNN training list" in res.stderr
    assert len(res.stderr.splitlines()) == 1


def test_missing_file_exit_2(tmp_path):
    res = run_cli(["inspect", "--format", "wider", tmp_path / "nope.txt"])
    assert res.code == 2 and res.stdout == ""
    assert len(res.stderr.splitlines()) == 1 and "nope.txt" in res.stderr


def test_sizes_from_image_headers(shared_data):
    """WIDER files carry no sizes: with --images they come from the (real) image headers."""
    root = shared_data / "dlib_faces"
    stats = ok(run_inproc(["inspect", "--format", "wider", root / "derived/wider_face_train_bbx_gt.txt",
                           "--images", root]))
    assert stats["images"] == stats["images_with_size"] == 4
    without = ok(run_inproc(["inspect", "--format", "wider", root / "derived/wider_face_train_bbx_gt.txt"]))
    assert without["images_with_size"] == 0


def test_images_root_must_be_a_folder(shared_data, tmp_path):
    res = run_cli(["inspect", "--format", "wider", shared_data / "dlib_faces/derived/wider_face_train_bbx_gt.txt",
                   "--images", tmp_path / "nope"])
    assert res.code == 2 and res.stdout == "" and "Traceback" not in res.stderr


def test_version_and_console_script(tmp_path):
    res = run_cli(["--version"])
    assert res.code == 0 and "samplegen" in res.stdout
    import shutil
    import subprocess

    exe = shutil.which("samplegen")
    if exe is None:
        pytest.skip("console script not on PATH")
    proc = subprocess.run([exe, "inspect"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and json.loads(proc.stdout)["images"] == 2
