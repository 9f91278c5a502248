"""Every configuration error names where the bad value came from (issue 14 item 8)."""
from __future__ import annotations

from pathlib import Path

import pytest

from samplegen.anchors.methods import build_method_config
from samplegen.config import resolve
from samplegen.errors import ConfigError
from samplegen.mtcnn.config import build_mtcnn_config

ENGINE = "engine keys: max_errors, seed, shard_size, workers)"


def mtcnn_error(**layers) -> str:
    with pytest.raises(ConfigError) as info:
        resolved = resolve("mtcnn/pnet.yaml", **layers)
        resolved.engine()
        build_mtcnn_config(12, resolved)
    return str(info.value)


def test_environment_value_names_the_variable() -> None:
    assert mtcnn_error(environ={"SAMPLEGEN_SEED": "abc"}) == \
        "config environment:SAMPLEGEN_SEED: 'seed' must be an integer, got 'abc'"


def test_unknown_key_in_a_file_lists_method_and_engine_keys(tmp_path: Path) -> None:
    f = tmp_path / "my.yaml"
    f.write_text("sed: 3\n")
    message = mtcnn_error(config_file=f, environ={})
    assert message.startswith(f"config file:{f}: unknown key 'sed' (known: allow_duplicates, ")
    assert message.endswith(ENGINE)
    with pytest.raises(ConfigError) as info:
        build_method_config("fpn", resolve("anchors/fpn.yaml", config_file=f, environ={}))
    assert str(info.value).startswith(f"config file:{f}: unknown key 'sed'") and str(info.value).endswith(ENGINE)


def test_nested_unknown_key_lists_only_its_own_level(tmp_path: Path) -> None:
    f = tmp_path / "my.yaml"
    f.write_text("landmark:\n  seed: 3\n")
    message = mtcnn_error(config_file=f, environ={})
    assert "unknown key 'landmark.seed'" in message and "engine keys" not in message


@pytest.mark.parametrize("layers, source", [
    ({"overrides": {"jitter": -1}}, "command line"),
    ({"environ": {"SAMPLEGEN_JITTER": "-1"}}, "environment:SAMPLEGEN_JITTER"),
])
def test_mtcnn_range_error_names_its_source(layers: dict, source: str) -> None:
    assert mtcnn_error(**layers) == f"config {source}: 'jitter' must be >= 0, got -1.0"


def test_threshold_chain_blames_the_value_the_user_set(tmp_path: Path) -> None:
    f = tmp_path / "my.yaml"
    f.write_text("neg_iou_thr: 0.5\n")
    message = mtcnn_error(config_file=f, environ={})
    assert message.startswith(f"config file:{f}: 'neg_iou_thr' is 0.5: the thresholds must satisfy 0 <= ")
    assert f"neg_iou_thr=0.5 (file:{f})" in message
    assert "part_iou_thr=0.4 (preset:mtcnn/pnet.yaml)" in message


def test_landmark_range_error_names_its_source() -> None:
    message = mtcnn_error(environ={"SAMPLEGEN_LANDMARK__MIRROR_PROB": "2"})
    assert message == "config environment:SAMPLEGEN_LANDMARK__MIRROR_PROB: 'landmark.mirror_prob' must be in [0, 1], got 2.0"
