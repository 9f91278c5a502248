"""samplegen.mtcnn.config: presets build, round-trip, overrides and validation messages."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from samplegen.config import preset_text
from samplegen.errors import ConfigError
from samplegen.mtcnn.config import PRESETS, MtcnnConfig, load_mtcnn_config


@pytest.mark.parametrize("size", [12, 24, 48])
def test_every_preset_builds_with_its_size(size):
    cfg, layered = load_mtcnn_config(size)
    assert isinstance(cfg, MtcnnConfig) and cfg.size == size
    assert cfg.neg_min_size == size
    # Issue 3 defaults.
    assert (cfg.pos_iou_thr, cfg.part_iou_thr, cfg.neg_iou_thr) == (0.65, 0.4, 0.3)
    assert cfg.ratio == (1, 3, 1, 2) and cfg.pos_attempts == 20 and cfg.size_range == (0.8, 1.25)
    assert cfg.landmark.attempts == 10 and cfg.landmark.angles == (5.0, -5.0)
    assert cfg.hard.min_size == 20 and cfg.hard.neg_per_image == 60
    assert all(source == f"preset:{PRESETS[size]}" for source in layered.sources.values())


@pytest.mark.parametrize("size", [12, 24, 48])
def test_preset_round_trips_every_key(size):
    # Every dataclass field is in the preset (no Python defaults), and nothing else.
    # (20 == 20.0 in Python, so int-valued YAML floats compare equal to the built floats.)
    cfg, layered = load_mtcnn_config(size)
    assert _tuples_to_lists(dataclasses.asdict(cfg)) == yaml.safe_load(preset_text(PRESETS[size]))
    assert layered.values == yaml.safe_load(preset_text(PRESETS[size]))


def _tuples_to_lists(value):
    if isinstance(value, dict):
        return {k: _tuples_to_lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tuples_to_lists(v) for v in value]
    return value


def test_overrides_apply_and_record_their_source():
    cfg, layered = load_mtcnn_config(12, {"pad": True, "landmark": {"angles": [3]}}, source="cli")
    assert cfg.pad is True and cfg.landmark.angles == (3.0,)
    assert layered.sources["pad"] == "cli" and layered.sources["landmark.angles"] == "cli"
    assert layered.sources["landmark.attempts"] == "preset:mtcnn/pnet.yaml"


def test_unknown_size():
    with pytest.raises(ConfigError, match="no MTCNN preset for size 36"):
        load_mtcnn_config(36)


def test_size_override_must_match_the_preset():
    with pytest.raises(ConfigError, match="'size' is 24"):
        load_mtcnn_config(12, {"size": 24})


def test_unknown_key_names_it():
    with pytest.raises(ConfigError, match="unknown key 'pos_iou'"):
        load_mtcnn_config(12, {"pos_iou": 0.5})


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="pos_attempts"):
        load_mtcnn_config(12, {"pos_attempts": "many"})


@pytest.mark.parametrize("overrides, message", [
    ({"neg_iou_thr": 0.5}, "neg_iou_thr=0.5"),
    ({"pos_iou_thr": 1.5}, "pos_iou_thr=1.5"),
    ({"size_range": [1.3, 1.2]}, "size_range"),
    ({"ratio": [0, 0, 0, 0]}, "ratio"),
    ({"ratio": [1, -3, 1, 2]}, "ratio"),
    ({"neg_max_attempts": 10}, "neg_max_attempts"),
    ({"allow_duplicates": True, "ratio": [0, 3, 1, 2]}, "ratio_base"),
    ({"ratio_base": "faces"}, "ratio_base"),
    ({"landmark": {"mirror_prob": 2}}, "landmark.mirror_prob"),
    ({"landmark": {"angles": [0]}}, "landmark.angles"),
    ({"hard": {"min_size": 0}}, "hard.min_size"),
    ({"jitter": -0.1}, "jitter"),
])
def test_validation_messages(overrides, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        load_mtcnn_config(12, overrides)
