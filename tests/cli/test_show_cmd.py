"""`samplegen show mtcnn|anchors` end to end on the embedded sample, and --from against direct."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from samplegen import embedded
from samplegen.anchors.methods import anchor_config
from samplegen.pipelines.show import direct_view, output_view, render_view
from samplegen.outputs import read_mtcnn
from samplegen.render.anchor_panels import anchor_panels
from samplegen.render.sheet import SheetLayout, sheet_shape, tile_origins
from tests.cli.helpers import ok, run_cli, run_inproc


@pytest.fixture(scope="module")
def mtcnn_outputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mtcnn")
    outs = {}
    for layout in ("packed", "wds", "list"):
        outs[layout] = root / layout
        ok(run_inproc(["mtcnn", "--size", "24", "--layout", layout, "--out", outs[layout], "--no-progress",
                       "--workers", "1"]))
    return outs


@pytest.fixture(scope="module")
def fpn_output(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("anchors") / "fpn"
    ok(run_inproc(["anchors", "--method", "fpn", "--with-images", "--out", out, "--no-progress", "--workers", "1"]))
    return out


@pytest.mark.parametrize("layout", ["packed", "wds", "list"])
def test_show_mtcnn_sheet_matches_the_layout(mtcnn_outputs, tmp_path, layout):
    out = mtcnn_outputs[layout]
    counts = Counter(s["label"] for s in read_mtcnn(out))  # counted independently of the sheet
    png = tmp_path / "sheet.png"
    summary = ok(run_inproc(["show", "mtcnn", out, "--out", png, "--per-class", "5", "--columns", "4"]))
    names = ["pos", "part", "neg", "landmark"]
    assert summary["totals"] == {n: counts[n] for n in names}
    assert summary["tiles"] == {n: min(5, counts[n]) for n in names}
    assert summary["tile"] == 96 and summary["margin"] == 16  # 24 px crops enlarged 4x, 96 / 6
    sheet = cv2.imread(str(png))
    layout_ = SheetLayout(tile=96, columns=4, margin=16)
    assert sheet.shape[:2] == sheet_shape(layout_, [min(5, counts[n]) for n in names])
    # every tile slot shows its crop: the first pos crop, enlarged 4x, is at the first pos slot
    first_pos = next(s for s in read_mtcnn(out) if s["label"] == "pos")
    y, x = tile_origins(layout_, list(summary["tiles"].values()))[0][0]
    centre = sheet[y + 40:y + 56, x + 40:x + 56]
    np.testing.assert_array_equal(centre, cv2.resize(first_pos["image"], (96, 96),
                                                     interpolation=cv2.INTER_NEAREST)[40:56, 40:56])


def test_show_mtcnn_scale_and_refusal(mtcnn_outputs, tmp_path):
    summary = ok(run_inproc(["show", "mtcnn", mtcnn_outputs["packed"], "--out", tmp_path / "s.png",
                             "--per-class", "1", "--scale", "2"]))
    assert summary["tile"] == 48 and cv2.imread(str(tmp_path / "s.png")).shape[1] == 16 * (48 + 16 + 4) + 4
    res = run_cli(["show", "mtcnn", tmp_path, "--out", tmp_path / "x.png"])
    assert res.code == 2 and "no samplegen mtcnn output" in res.stderr


@pytest.mark.parametrize("method,panels", [("fpn", 5), ("fcos", 6), ("ssd300", 6), ("faster_rcnn", 1)])
def test_show_anchors_on_the_embedded_sample(tmp_path, method, panels):
    png = tmp_path / "a.png"
    summary = ok(run_inproc(["show", "anchors", "--method", method, "--out", png, "--panel-size", "200"]))
    assert summary["panels"] == panels and summary["image"] == "astronaut.jpg"
    image = cv2.imread(str(png))
    assert image.shape[:2] == (summary["height"], summary["width"])
    assert summary["counts"]["pos"] > 0


def test_show_anchors_unknown_key_or_missing_image_exit_2(tmp_path):
    res = run_cli(["show", "anchors", "--method", "fpn", "--image", "nope.jpg", "--out", tmp_path / "a.png"])
    assert res.code == 2 and "nope.jpg" in res.stderr and not (tmp_path / "a.png").exists()
    res = run_cli(["show", "anchors", "--method", "fpn", "--images", tmp_path, "--annotations", embedded.COCO,
                   "--out", tmp_path / "a.png"])
    assert res.code == 2 and "none of the 2 images" in res.stderr and "astronaut.jpg" in res.stderr
    res = run_cli(["show", "anchors", "--from", tmp_path, "--out", tmp_path / "a.png"])
    assert res.code == 2 and "no samplegen anchors output" in res.stderr
    res = run_cli(["show", "anchors", "--out", tmp_path / "a.png"])
    assert res.code == 2


def test_from_output_gives_the_direct_picture(fpn_output, tmp_path):
    cfg = anchor_config("fpn")
    for key in ("grace_hopper.jpg", "00000000"):
        stored = output_view(fpn_output, key, with_image=True)
        direct = direct_view(cfg, 0, embedded.COCO, "coco", embedded.ROOT,
                             "astronaut.jpg" if key == "00000000" else key, with_image=True)
        # the output keeps max_iou at the positives only (pos_max_iou); everything else is rebuilt exactly
        assert set(direct.arrays) - {"max_iou"} == set(stored.arrays) - {"pos_max_iou"}
        for name, value in direct.arrays.items():
            if name != "max_iou":
                np.testing.assert_array_equal(stored.arrays[name], value, err_msg=name)
        np.testing.assert_array_equal(stored.arrays["pos_max_iou"], direct.arrays["max_iou"][direct.arrays["pos_inds"]])
        np.testing.assert_array_equal(stored.priors, direct.priors)
        # same canvas (the stored JPEG) -> identical panels
        a = anchor_panels(stored.canvas, stored.arrays, stored.priors, cfg.strides, 0.5)
        b = anchor_panels(stored.canvas, direct.arrays, direct.priors, cfg.strides, 0.5)
        for pa, pb in zip(a, b):
            assert pa.title == pb.title
            np.testing.assert_array_equal(pa.image, pb.image)
        # the stored JPEG is the network input up to compression
        assert stored.canvas.shape == direct.canvas.shape
        assert np.abs(stored.canvas.astype(int) - direct.canvas.astype(int)).mean() < 2.0
        assert np.array_equal(render_view(stored, 300, 3, 0.0, 1.0)[0].shape,
                              render_view(direct, 300, 3, 0.0, 1.0)[0].shape)


def test_from_output_cli_equals_direct_cli(fpn_output, tmp_path):
    direct = ok(run_inproc(["show", "anchors", "--method", "fpn", "--image", "grace_hopper.jpg", "--no-image",
                            "--out", tmp_path / "d.png"]))
    stored = ok(run_inproc(["show", "anchors", "--from", fpn_output, "--image", "grace_hopper.jpg",
                            "--no-image", "--out", tmp_path / "s.png"]))
    assert direct["counts"] == stored["counts"] and stored["panels"] == 5
    assert (tmp_path / "d.png").read_bytes() == (tmp_path / "s.png").read_bytes()
    res = run_cli(["show", "anchors", "--from", fpn_output, "--method", "fpn", "--out", tmp_path / "x.png"])
    assert res.code == 2 and "--method" in res.stderr


@pytest.mark.parametrize("command", [["show"], ["show", "mtcnn"], ["show", "anchors"]])
def test_help(command):
    res = run_inproc([*command, "--help"])
    assert res.code == 0 and "Usage:" in res.stdout and "--out" in res.stdout or command == ["show"]
    if command == ["show"]:
        assert "mtcnn" in res.stdout and "anchors" in res.stdout


@pytest.fixture(scope="module")
def coco128(shared_data) -> list:
    return ["--annotations", shared_data / "coco128" / "annotations" / "instances_train2017.json",
            "--images", shared_data / "coco128" / "images" / "train2017"]


@pytest.mark.parametrize("method, panels", [("yolov3", 3), ("yolov5", 3), ("centernet", 2), ("fcos", 6)])
def test_show_anchors_new_methods_with_legend(coco128, tmp_path, method, panels):
    from samplegen.render.legend import STRIP_HEIGHT

    png = tmp_path / f"{method}.png"
    summary = ok(run_inproc(["show", "anchors", "--method", method, *coco128, "--image", "000000000009.jpg",
                             "--out", png, "--panel-size", "160"]))
    assert summary["panels"] == panels and summary["image"] == "000000000009.jpg"
    image = cv2.imread(str(png))
    assert image.shape[:2] == (summary["height"], summary["width"])
    legend_rows = image[-STRIP_HEIGHT:]
    assert (legend_rows == 255).all(axis=2).any()  # the legend's white text under the panels
    assert summary["counts"]["pos"] > 0


def test_image_by_stem_or_coco_id(coco128, tmp_path):
    pictures = {}
    for key in ("000000000009.jpg", "000000000009", "9"):
        pictures[key] = tmp_path / f"{key}.png"
        summary = ok(run_inproc(["show", "anchors", "--method", "ssd300", *coco128, "--image", key,
                                 "--out", pictures[key], "--panel-size", "96"]))
        assert summary["image"] == "000000000009.jpg"
    assert len({p.read_bytes() for p in pictures.values()}) == 1
    res = run_cli(["show", "anchors", "--method", "ssd300", *coco128, "--image", "000000000009.png",
                   "--out", tmp_path / "x.png"])
    assert res.code == 2 and "nearest key: '000000000009.jpg'" in res.stderr and len(res.stderr.splitlines()) == 1


def test_ambiguous_stem_is_refused(shared_data, tmp_path):
    """The same file name in two folders: the stem names neither."""
    from tests.cli.helpers import wider_blocks

    _, lines = wider_blocks(shared_data / "dlib_faces" / "derived" / "wider_face_train_bbx_gt.txt", 1)
    name = lines[0].strip()
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join([f"a/{name}", *lines[1:], f"b/{name}", *lines[1:]]) + "\n")
    root = tmp_path / "images"      # WIDER stores no sizes: the images are needed, in both folders
    for folder in ("a", "b"):
        (root / folder / name).parent.mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_bytes((shared_data / "dlib_faces" / name).read_bytes())
    res = run_cli(["show", "anchors", "--method", "fpn", "--annotations", gt, "--format", "wider",
                   "--images", root, "--image", name.rsplit(".", 1)[0], "--out", tmp_path / "x.png"])
    assert res.code == 2 and "is ambiguous" in res.stderr and f"'a/{name}'" in res.stderr
