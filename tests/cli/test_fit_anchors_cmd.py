"""``samplegen fit-anchors``: every method of the table answers; the snippet is a valid --config."""
from __future__ import annotations

import json

import pytest

from samplegen.anchors.methods import METHODS
from samplegen.cli import main


def run(args, capsys) -> tuple[int, dict | None, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, (json.loads(captured.out) if captured.out else None), captured.err


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_answers_in_one_line(method, capsys):
    code, out, err = run(["fit-anchors", "--method", method], capsys)
    if METHODS[method].fit_space is None:
        assert code == 2 and out is None and err.count("\n") == 1
        assert METHODS[method].not_fittable in err
    else:
        assert code == 0, err
        assert out["method"] == method and out["recall"]["all"]["boxes"] == out["boxes"] > 0
        assert ("prior_generator" in (out["suggested"] or {})) != out["preset_is_best"]
        if out["preset_is_best"]:
            assert out["config_snippet"] is None and "already the best" in out["note"]
        assert out["objective"]["suggested"] >= out["objective"]["preset"]
        criterion = out["criterion"]
        if "positive_iou" in criterion:     # the method's own thresholds are in the tables
            assert f"iou>={criterion['positive_iou']:g}" in out["recall"]["all"]


def test_options_it_does_not_honour_are_not_offered(capsys):
    for option in ("--out", "--workers", "--shard-size", "--resume", "--overwrite", "--no-progress"):
        code, _, err = run(["fit-anchors", option, "x" if option in ("--out",) else "1"], capsys)
        assert code == 2 and "No such option" in err, option


def test_fit_anchors_snippet_is_accepted_by_config(tmp_path, capsys, shared_data):
    coco = shared_data / "coco128/annotations/instances_train2017.json"
    code, fit, err = run(["fit-anchors", "--method", "faster_rcnn", "--annotations", coco,
                          "--write-config", tmp_path / "fit.yaml"], capsys)
    assert code == 0, err
    assert fit["boxes"] == 929 and fit["recall"]["all"]["boxes"] == 929
    # The RPN's positive threshold is 0.7: the fitted set must raise recall there (and keep the
    # low-quality one at 0.3), and a real labelling pass must give no fewer positives at 0.7 and
    # leave no more GTs without a positive.
    before, after = fit["recall"]["all"], fit["suggested_recall"]["all"]
    assert after["iou>=0.7"] > before["iou>=0.7"] and after["iou>=0.3"] >= before["iou>=0.3"]
    labels = fit["labelling"]
    assert labels["suggested"]["positives_iou>=0.7"] >= labels["preset"]["positives_iou>=0.7"] > 0
    assert labels["suggested"]["gts_without_positive"] <= labels["preset"]["gts_without_positive"]
    code, out, err = run(["anchors", "--method", "faster_rcnn", "--config", tmp_path / "fit.yaml",
                          "--out", tmp_path / "run", "--no-progress"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    scales = fit["suggested"]["prior_generator"]["scales"]
    assert manifest["config"]["prior_generator"]["scales"] == scales
    assert manifest["config_sources"]["prior_generator.scales"] == f"file:{tmp_path / 'fit.yaml'}"
    assert out["images"] == 2
