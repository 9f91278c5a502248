"""``samplegen config show``: the resolved preset and the source of each value, as the commands layer them."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cli.helpers import manifest, ok, run_cli

REPO = Path(__file__).resolve().parents[2]


def leaves(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("args, preset", [(["--method", "fpn"], "anchors/fpn.yaml"),
                                          (["--size", "24"], "mtcnn/rnet.yaml"),
                                          (["--preset", "aittsmd"], "detect/aittsmd.yaml")])
def test_plain_preset_every_value_from_the_shipped_files(args: list, preset: str) -> None:
    shown = ok(run_cli(["config", "show", *args]))
    engine = yaml.safe_load((REPO / "configs" / "engine.yaml").read_text())
    method = yaml.safe_load((REPO / "configs" / preset).read_text())
    assert leaves(shown["values"]) == leaves({**engine, **method})
    assert set(shown["sources"]) == set(leaves(shown["values"]))
    assert {s for k, s in shown["sources"].items() if k in engine} == {"preset:engine.yaml"}
    assert {s for k, s in shown["sources"].items() if k not in engine} == {f"preset:{preset}"}


def test_layers_and_their_sources_match_the_manifest_of_a_run(tmp_path: Path) -> None:
    """--config < SAMPLEGEN_* < --set, with the same values and sources `samplegen anchors` records."""
    cfg = tmp_path / "my.yaml"
    cfg.write_text("assigner:\n  pos_iou_thr: 0.55\n  neg_iou_thr: 0.45\nseed: 4\n")
    env = {"SAMPLEGEN_SEED": "7", "SAMPLEGEN_ASSIGNER__NEG_IOU_THR": "0.4"}
    layers = ["--config", cfg, "--set", "assigner.min_pos_iou=0.3"]
    shown = ok(run_cli(["config", "show", "--method", "ssd300", *layers], env=env))
    values, sources = leaves(shown["values"]), shown["sources"]
    assert (values["seed"], sources["seed"]) == (7, "environment:SAMPLEGEN_SEED")
    assert (values["assigner.pos_iou_thr"], sources["assigner.pos_iou_thr"]) == (0.55, f"file:{cfg}")
    assert sources["assigner.neg_iou_thr"] == "environment:SAMPLEGEN_ASSIGNER__NEG_IOU_THR"
    assert (values["assigner.min_pos_iou"], sources["assigner.min_pos_iou"]) == (0.3, "command line")
    out = tmp_path / "run"
    ok(run_cli(["anchors", "--method", "ssd300", *layers, "--out", out, "--workers", 1, "--no-progress"], env=env))
    recorded = manifest(out)
    # The manifest records the sources of what decides its bytes: not of workers or max_errors
    # (a run with --workers 2 is the same bytes), but of the shard plan the run chose.
    decisive = {k: v for k, v in sources.items() if k not in ("workers", "max_errors")}
    assert recorded["config_sources"] == {**decisive, "shards": "default: at least 16 shards"}
    assert {k: v for k, v in leaves(recorded["config"]).items() if k in values} == \
        {k: v for k, v in values.items() if k in leaves(recorded["config"])}


def test_yaml_output_is_a_config_file_giving_the_same_values(tmp_path: Path) -> None:
    text = run_cli(["config", "show", "--size", "12", "--set", "jitter=0.15", "--yaml"]).stdout
    assert "jitter: 0.15  # command line" in text and "pos_iou_thr: 0.65  # preset:mtcnn/pnet.yaml" in text
    again = tmp_path / "again.yaml"
    again.write_text(text)
    first = ok(run_cli(["config", "show", "--size", "12", "--set", "jitter=0.15"]))
    second = ok(run_cli(["config", "show", "--size", "12", "--config", again]))
    assert second["values"] == first["values"] and second["fingerprint"] == first["fingerprint"]
    assert set(second["sources"].values()) == {f"file:{again}"}


def test_bad_values_are_the_commands_errors() -> None:
    res = run_cli(["config", "show", "--size", "12"], env={"SAMPLEGEN_JITTER": "-1"})
    assert res.code == 2 and res.stdout == ""
    assert res.stderr.strip() == "samplegen: config environment:SAMPLEGEN_JITTER: 'jitter' must be >= 0, got -1.0"
    res = run_cli(["config", "show", "--method", "fpn", "--set", "sed=1"])
    assert res.code == 2 and "unknown key 'sed'" in res.stderr and "engine keys: max_errors, seed" in res.stderr
    res = run_cli(["config", "show", "--method", "fpn", "--size", "12"])
    assert res.code == 2 and "exactly one of" in res.stderr
