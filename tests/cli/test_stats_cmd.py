"""`samplegen stats` figures, checked against the written arrays read independently."""
from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from samplegen.cli import main
from samplegen.outputs.stats import IOU_BINS, iou_histogram
from samplegen.render.stats_plot import PLOT_BOTTOM, PLOT_TOP, bar_geometry, bar_panel


def run(args, capsys) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    return json.loads(out)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("outs")
    for args in (["mtcnn", "--size", "24", "--out", str(root / "m")],
                 ["anchors", "--method", "fpn", "--out", str(root / "a")]):
        with pytest.raises(SystemExit) as exit_info:
            main(args + ["--no-progress", "--workers", "1"])
        assert exit_info.value.code == 0
    return root


def test_iou_histogram_bins():
    assert iou_histogram(np.array([0.0, 0.049, 0.05, 0.65, 0.99, 1.0])) == [2, 1] + [0] * 10 + [0, 1] + [0] * 5 + [2]
    assert len(IOU_BINS) == 21


def test_mtcnn_stats_match_the_labels_file(outputs, capsys):
    stats = run(["stats", str(outputs / "m")], capsys)
    shards = [np.load(f) for f in sorted((outputs / "m").glob("*.labels.npz"))]
    labels = {name: np.concatenate([shard[name] for shard in shards]) for name in ("cls", "mirror", "iou")}
    cls = labels["cls"]
    assert stats["per_class"] == {"pos": int((cls == 1).sum()), "neg": int((cls == 0).sum()),
                                  "part": int((cls == -1).sum()), "landmark": int((cls == -2).sum())}
    assert stats["samples"] == len(cls) and stats["mirrored"] == int(labels["mirror"].sum())
    pos_iou = labels["iou"][cls == 1]
    assert stats["iou_histogram"]["pos"] == np.histogram(pos_iou, bins=IOU_BINS)[0].tolist()
    assert sum(stats["iou_histogram"]["pos"][:13]) == 0  # every positive has IoU >= 0.65


def test_anchor_stats_match_the_npz(outputs, capsys):
    stats = run(["stats", str(outputs / "a")], capsys)
    tars = [tarfile.open(path) for path in sorted((outputs / "a").glob("*.tar"))]
    arrays = [np.load(io.BytesIO(tar.extractfile(m).read())) for tar in tars for m in tar if m.name.endswith(".npz")]
    assert stats["images"] == len(arrays)
    # KEY.npz stores the sparse form: the positives are pos_inds, their 0-based GT pos_gt_inds
    assert stats["priors"]["pos"] == sum(len(a["pos_inds"]) for a in arrays)
    missed = 0
    for a in arrays:
        matched = set(a["pos_gt_inds"].tolist())
        missed += sum(k not in matched for k in range(len(a["gt_boxes"])))
    assert stats["gt_without_positive"] == missed
    assert sum(v["boxes"] for v in stats["gt_without_positive_by_size"].values()) == stats["gt_boxes"]
    per_level = list(stats["per_level"].values())
    assert [v["priors"] for v in per_level] == np.sum([a["priors_per_level"] for a in arrays], axis=0).tolist()
    assert list(stats["per_level"]) == ["stride4", "stride8", "stride16", "stride32", "stride64"]


def test_stats_plot_is_written(outputs, capsys, tmp_path):
    import cv2

    stats = run(["stats", str(outputs / "a"), "--plot", str(tmp_path / "p.png")], capsys)
    image = cv2.imread(stats["plot"])
    assert image is not None and image.shape[1] == 900 and image.shape[0] == 3 * 240


def test_bar_heights_are_proportional():
    panel = bar_panel("t", ["a", "b", "c"], [10, 5, 0])
    (a1, a2), (b1, b2), (c1, c2) = bar_geometry(3)
    column = lambda x: np.flatnonzero((panel[PLOT_TOP - 1:PLOT_BOTTOM, x] != 255).any(axis=1))  # noqa: E731
    tallest, half = column((a1 + a2) // 2), column((b1 + b2) // 2)
    assert tallest[0] <= 2 and abs(len(half) - len(tallest) / 2) <= 2
    assert column((c1 + c2) // 2).size == 0


def test_stats_of_a_folder_without_manifest_is_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", str(tmp_path)])
    assert exit_info.value.code == 2 and "manifest" in capsys.readouterr().err


def test_size_buckets_have_units_and_numbered_no_positive_bars(shared_data, tmp_path, capsys):
    """Faster R-CNN's 128-512 px anchors on COCO128: most small boxes get no positive prior; the
    size chart labels buckets in px and writes each bucket's no-positive count in red."""
    import cv2

    from samplegen.render.stats_plot import PANEL_HEIGHT, SECOND_COLOUR

    out = tmp_path / "frcnn"
    with pytest.raises(SystemExit) as exit_info:
        main(["anchors", "--method", "faster_rcnn", "--annotations",
              str(shared_data / "coco128" / "annotations" / "instances_train2017.json"), "--out", str(out),
              "--no-progress", "--workers", "1"])
    assert exit_info.value.code == 0
    capsys.readouterr()
    stats = run(["stats", str(out), "--plot", str(tmp_path / "p.png")], capsys)
    buckets = stats["gt_without_positive_by_size"]
    assert buckets["0-16"]["without_positive"] == buckets["0-16"]["boxes"] > 0
    size_panel = cv2.imread(stats["plot"])[-PANEL_HEIGHT:]
    red_text = np.all(size_panel[PLOT_BOTTOM + 22:PLOT_BOTTOM + 40] == SECOND_COLOUR, axis=2)
    for (x1, x2), counts in zip(bar_geometry(len(buckets)), buckets.values()):
        assert red_text[:, x1:x2].any() == (counts["boxes"] > 0)


def test_overlay_labels_are_written_only_under_bars_with_boxes():
    from samplegen.render.stats_plot import SECOND_COLOUR

    panel = bar_panel("t", ["0-16 px", "16-32 px"], [4, 0], [3, 0], "no pos")
    red = np.all(panel[PLOT_BOTTOM + 22:PLOT_BOTTOM + 40] == SECOND_COLOUR, axis=2)
    (a1, a2), (b1, b2) = bar_geometry(2)
    assert red[:, a1:a2].any() and not red[:, b1:b2].any()
