"""The first hour of a new user (issue 14): each mistake, made on real files, is caught early with
one line that says what to do, and nothing is written.

Wrong --format, wrong --images, a file of another layout read silently, detections that pair with
nothing, progress in a log file, configuration errors naming their source, hostile inputs.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers import ok, run_cli

COCO128 = "coco128/annotations/instances_train2017.json"
COLMAJOR = "wider/aittsmd_wider_face_val_colmajor.txt"


def one_line_exit_2(res, *fragments: str) -> str:
    assert res.code == 2, f"exit {res.code}: {res.stderr[-2000:]}"
    assert res.stdout == "" and "Traceback" not in res.stderr
    assert len(res.stderr.splitlines()) == 1, res.stderr
    for fragment in fragments:
        assert fragment in res.stderr, res.stderr
    return res.stderr


# 1. wrong --format ------------------------------------------------------------------------------

@pytest.mark.parametrize("command, relative, fmt, right", [
    (["mtcnn"], COCO128, "wider", "coco"),
    (["anchors", "--method", "ssd300"], "wider/wider_face_val_bbx_gt.txt", "coco", "wider"),  # auto by default
    (["mtcnn"], "facepoint/trainImageList.txt", "wider-lines", "facepoints"),
    (["mtcnn"], "wider/wider_origin_anno.txt", "wider", "wider-lines"),
])
def test_wrong_format_names_the_right_one_in_a_short_line(shared_data, tmp_path, command, relative, fmt, right):
    out = tmp_path / "out"
    args = [*command, "--annotations", shared_data / relative, "--out", out, "--no-progress"]
    err = one_line_exit_2(run_cli(args + (["--format", fmt] if fmt else [])), f"use --format {right}")
    assert len(err) < 600 and not out.exists()


def test_mtcnn_reads_a_coco_file_by_default_and_asks_for_its_face_class(shared_data, tmp_path):
    one_line_exit_2(run_cli(["mtcnn", "--annotations", shared_data / COCO128, "--out", tmp_path / "out"]),
                    "80 classes (1 person", "--classes")
    assert not (tmp_path / "out").exists()


def test_format_auto_runs_the_sniffed_reader(dlib, tmp_path):
    out = tmp_path / "out"
    summary = ok(run_cli(["anchors", "--method", "ssd300", "--annotations", dlib["wider"], "--format", "auto",
                          "--images", dlib["root"], "--out", out, "--workers", 1, "--no-progress"]))
    assert summary["images"] == 4


# 2. wrong or missing --images -------------------------------------------------------------------

def test_images_root_holding_none_of_the_images_stops_before_planning(shared_data, tmp_path):
    ann = shared_data / "wider" / "wider_face_val_bbx_gt.txt"
    wrong = shared_data / "coco128" / "images" / "train2017"
    out = tmp_path / "out"
    one_line_exit_2(run_cli(["mtcnn", "--annotations", ann, "--images", wrong, "--out", out, "--no-progress"]),
                    f"none of the 3,226 images of {ann} are under this folder",
                    f"(first expected: {wrong / '0--Parade' / '0_Parade_marchingband_1_465.jpg'})")
    assert not out.exists()


def test_anchors_with_a_wrong_images_root_is_refused_too(dlib, tmp_path):
    """COCO sizes make images unnecessary without --with-images, but a given --images holding
    none of them is still a mistake."""
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_exit_2(run_cli(["anchors", "--method", "ssd300", "--annotations", dlib["coco"], "--images", empty,
                             "--out", tmp_path / "out"]), "none of the 4 images")
    ok(run_cli(["anchors", "--method", "ssd300", "--annotations", dlib["coco"], "--out", tmp_path / "b",
                "--workers", 1, "--no-progress"]))  # without --images: sizes from the annotation


# 3. a file of another layout read silently --------------------------------------------------------

def test_column_major_list_read_as_wider_lines_is_refused_with_the_counts(shared_data, tmp_path):
    out = tmp_path / "out"
    one_line_exit_2(run_cli(["mtcnn", "--annotations", shared_data / COLMAJOR, "--format", "wider-lines",
                             "--out", out, "--no-progress"]),
                    "28,934 of 39,708 boxes (72.9 %) dropped while reading as wider-lines",
                    "use --format wider-colmajor", "--allow-drops")
    assert not out.exists()


def test_column_major_reader_and_allow_drops(shared_data):
    stats = ok(run_cli(["inspect", "--format", "wider-colmajor", shared_data / COLMAJOR]))
    assert (stats["images"], stats["boxes"], stats["dropped_boxes"]) == (3226, 39697, {"zero_size": 11})
    res = run_cli(["inspect", "--format", "wider-lines", "--allow-drops", shared_data / COLMAJOR])
    assert res.code == 0 and res.json()["boxes"] == 10774
    assert res.stderr.startswith("samplegen: warning: ") and "28,934 of 39,708 boxes" in res.stderr


# 4. detections that pair with nothing ------------------------------------------------------------

def test_detections_matching_no_image_say_so(dlib, tmp_path):
    dets = tmp_path / "dets.jsonl"
    dets.write_text('{"image": "images/2007_007763.jpg", "boxes": [[194, 90, 231, 127, 0.9]]}\n')
    one_line_exit_2(run_cli(["mtcnn", "--size", 24, "--annotations", dlib["wider"], "--images", dlib["root"],
                             "--detections", dets, "--out", tmp_path / "out", "--no-progress"]),
                    "0 of 1 detection entries name an image of the annotations",
                    "nearest annotation key: '2007_007763.jpg'")


# 5. progress when stderr is not a terminal ----------------------------------------------------------

def test_progress_lines_in_a_log_and_no_progress(dlib, tmp_path):
    args = ["anchors", "--method", "ssd300", "--annotations", dlib["coco"], "--images", dlib["root"],
            "--shard-size", 1, "--workers", 1]
    res = run_cli([*args, "--out", tmp_path / "a"], env={"SAMPLEGEN_PROGRESS_SECONDS": "0"})
    lines = [line for line in res.stderr.splitlines() if line.startswith("samplegen anchors: ")]
    assert res.code == 0 and len(lines) >= 3, res.stderr
    assert lines[-1].startswith("samplegen anchors: 4 of 4 images (100 %)")
    assert all(" images/s, ETA " in line for line in lines[:-1])
    quiet = run_cli([*args, "--out", tmp_path / "b", "--no-progress"], env={"SAMPLEGEN_PROGRESS_SECONDS": "0"})
    assert quiet.code == 0 and quiet.stderr == ""
    short = run_cli([*args, "--out", tmp_path / "c"])  # the default 30 s: a short run writes no line
    assert short.code == 0 and short.stderr == ""


# 8. configuration errors name their source ---------------------------------------------------------

def test_config_errors_name_their_source(tmp_path):
    one_line_exit_2(run_cli(["mtcnn", "--out", tmp_path / "a"], env={"SAMPLEGEN_SEED": "abc"}),
                    "config environment:SAMPLEGEN_SEED: 'seed' must be an integer, got 'abc'")
    cfg = tmp_path / "my.yaml"
    cfg.write_text("sed: 3\n")
    one_line_exit_2(run_cli(["mtcnn", "--config", cfg, "--out", tmp_path / "b"]),
                    f"config file:{cfg}: unknown key 'sed'", "engine keys: max_errors, seed, shard_size, workers")
    cfg.write_text("pos_iou_thr: 1.5\n")
    one_line_exit_2(run_cli(["mtcnn", "--config", cfg, "--out", tmp_path / "c"]),
                    f"config file:{cfg}: 'pos_iou_thr' is 1.5", "part_iou_thr=0.4 (preset:mtcnn/pnet.yaml)")


# issue 11: hostile inputs from the command line ----------------------------------------------------------

@pytest.mark.parametrize("content, fragment", [
    ("", "no images"),
    ("\n \n\t\n", "no images"),
    ("0--Parade/a.jpg\n1\n449 330 1e39 149 0 0 0 0 0 0\n", "'1e39' is beyond"),
])
def test_empty_and_absurd_files(tmp_path, content, fragment):
    gt = tmp_path / "gt.txt"
    gt.write_text(content)
    one_line_exit_2(run_cli(["mtcnn", "--annotations", gt, "--out", tmp_path / "out"]), fragment)


def test_a_device_as_annotations_is_refused_at_once(tmp_path):
    one_line_exit_2(run_cli(["inspect", "--format", "wider", "/dev/zero"], timeout=30), "not a regular file")
