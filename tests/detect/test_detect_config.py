"""samplegen.detect.config: the presets build, hold every key, and bad values name their key."""
from __future__ import annotations

import dataclasses

import pytest
import yaml

from samplegen.config import preset_text
from samplegen.detect.config import PRESETS, DetectConfig, load_detect_config
from samplegen.errors import ConfigError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_round_trips_every_key(name):
    # Every dataclass field is in the preset (no Python defaults) and nothing else.
    cfg = load_detect_config(name)
    assert isinstance(cfg, DetectConfig)
    assert dataclasses.asdict(cfg) == yaml.safe_load(preset_text(PRESETS[name]))


def test_ipazc_numbers_are_ipazc_mtcnn_settings():
    cfg = load_detect_config("ipazc")
    assert (cfg.pyramid.min_face, cfg.pyramid.factor, cfg.pyramid.interpolation) == (20, 0.709, "area")
    assert (cfg.pnet.threshold, cfg.rnet.threshold) == (0.6, 0.7)
    assert (cfg.pnet.level_nms.iou, cfg.pnet.cross_level_nms.iou, cfg.rnet.nms.iou) == (0.5, 0.7, 0.7)
    assert (cfg.input.channel_order, cfg.input.mean, cfg.input.scale) == ("rgb", 127.5, 0.0078125)


def test_aittsmd_numbers_are_gen_hard_example_settings():
    cfg = load_detect_config("aittsmd")
    assert (cfg.pyramid.min_face, cfg.pyramid.factor) == (20, 0.79)
    assert (cfg.pnet.threshold, cfg.rnet.threshold, cfg.rnet.nms.iou) == (0.3, 0.1, 0.6)
    assert (cfg.pnet.finish.square, cfg.rnet.prepare.square) == ("none", "plus_one")


def test_overrides_replace_single_keys():
    cfg = load_detect_config("ipazc", {"pnet": {"threshold": 0.5}, "rnet": {"batch_size": 16}})
    assert cfg.pnet.threshold == 0.5 and cfg.rnet.batch_size == 16 and cfg.rnet.threshold == 0.7


@pytest.mark.parametrize("overrides, key", [
    ({"pyramid": {"factor": 1.2}}, "pyramid.factor"),
    ({"pyramid": {"min_face": 0}}, "pyramid.min_face"),
    ({"pnet": {"threshold": 1.5}}, "pnet.threshold"),
    ({"rnet": {"nms": {"iou": -0.1}}}, "rnet.nms.iou"),
    ({"rnet": {"batch_size": 0}}, "rnet.batch_size"),
    ({"input": {"scale": 0}}, "input.scale"),
])
def test_out_of_range_values_name_their_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_detect_config("ipazc", overrides)


def test_unknown_keys_wrong_types_and_unknown_presets_are_config_errors():
    with pytest.raises(ConfigError, match="unknown key 'pnet.thresh'"):
        load_detect_config("ipazc", {"pnet": {"thresh": 0.5}})
    with pytest.raises(ConfigError, match="input.layout"):
        load_detect_config("ipazc", {"input": {"layout": "nhwc"}})
    with pytest.raises(ConfigError, match="must be a number"):
        load_detect_config("ipazc", {"pnet": {"threshold": "high"}})
    with pytest.raises(ConfigError, match="no detect preset named 'mtcnn'"):
        load_detect_config("mtcnn")


def test_config_is_hashable_for_the_per_process_net_cache():
    assert hash(load_detect_config("ipazc")) == hash(load_detect_config("ipazc"))
