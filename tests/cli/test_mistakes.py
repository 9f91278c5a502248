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


# missing --images, a ratio that selects nothing, stale environment keys, bad values ---------------

@pytest.mark.parametrize("command", [["mtcnn", "--size", 12], ["anchors", "--method", "ssd300"],
                                     ["detect", "--pnet", "PNET"], ["fit-anchors", "--method", "ssd300", "--format", "wider"]])
def test_sizeless_annotations_without_images_are_refused_before_any_work(dlib, tmp_path, command):
    from samplegen import embedded

    out = tmp_path / "out"
    command = [str(embedded.PNET) if part == "PNET" else part for part in command]
    args = [*command, "--annotations", dlib["wider"]]
    if command[0] != "fit-anchors":
        args += ["--out", out, "--no-progress"]
    one_line_exit_2(run_cli(args), "have no size in this file", "give --images FOLDER")
    assert not out.exists()


def test_landmarks_without_their_images_name_landmark_images(dlib, tmp_path):
    res = run_cli(["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--images", dlib["root"],
                   "--landmarks", dlib["points"], "--out", tmp_path / "out", "--no-progress"])
    one_line_exit_2(res, "give --landmark-images FOLDER")


def test_a_ratio_no_image_can_meet_is_refused_not_an_empty_run(dlib, tmp_path):
    out = tmp_path / "out"
    res = run_cli(["mtcnn", "--size", 12, "--annotations", dlib["wider"], "--images", dlib["root"],
                   "--ratio", "1:100000:1:0", "--out", out, "--no-progress", "--workers", 1])
    one_line_exit_2(res, "nothing to write", "asks for 100000 neg samples per unit", "lower that share")
    assert not out.exists()


def test_an_environment_variable_of_a_renamed_key_names_the_new_one(tmp_path):
    res = run_cli(["anchors", "--method", "fpn", "--out", tmp_path / "out", "--no-progress"],
                  env={"SAMPLEGEN_POS_IOU_THR": "0.6"})
    one_line_exit_2(res, "SAMPLEGEN_POS_IOU_THR", "set SAMPLEGEN_ASSIGNER__POS_IOU_THR instead")


@pytest.mark.parametrize("args, fragment", [
    (["anchors", "--method", "ssd300", "--priors", 0, 0], "--priors"),
    (["anchors", "--method", "ssd300", "--priors", 300, 300, "--save", "no/such/folder/p.npy"], "no/such/folder"),
    (["mtcnn", "--seed", -1], "--seed"),
    (["mtcnn", "--workers", 0], "--workers"),
])
def test_bad_values_are_one_line_exit_2(tmp_path, args, fragment):
    one_line_exit_2(run_cli([*args, "--no-progress"] if args[0] == "mtcnn" else args, cwd=tmp_path), fragment)
    assert not (tmp_path / "samplegen-out").exists()


def test_show_anchors_checks_the_image_as_the_anchors_job_does(dlib, tmp_path):
    import json

    from samplegen import embedded

    # A symlink leading out of --images is refused unless --follow-symlinks; a size unlike the
    # annotation's is refused, as it would be skipped by `samplegen anchors`.
    root = tmp_path / "images"
    root.mkdir()
    for photo in embedded.ROOT.glob("*.jpg"):
        (root / photo.name).symlink_to(photo)
    args = ["show", "anchors", "--method", "ssd300", "--annotations", embedded.COCO, "--images", root]
    one_line_exit_2(run_cli([*args, "--out", tmp_path / "a.png"]), "outside_root")
    ok(run_cli([*args, "--follow-symlinks", "--out", tmp_path / "b.png"]))
    data = json.loads(Path(embedded.COCO).read_text())
    for image in data["images"]:
        image["width"] += 8
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(data))
    one_line_exit_2(run_cli(["show", "anchors", "--method", "ssd300", "--annotations", wrong, "--images",
                             embedded.ROOT, "--out", tmp_path / "c.png"]), "size_mismatch")


def test_proposals_matching_no_image_say_so(tmp_path):
    props = tmp_path / "props.jsonl"
    props.write_text('{"image": "elsewhere/astronaut.jpg", "boxes": [[10, 10, 90, 90, 0.9]]}\n')
    one_line_exit_2(run_cli(["anchors", "--method", "fpn", "--stage", "rcnn", "--proposals", props,
                             "--out", tmp_path / "out", "--no-progress"]),
                    "0 of 1 detection entries name an image of the annotations", "nearest annotation key")
    assert not (tmp_path / "out").exists()
