"""Method configs: every preset builds and validates; overrides are checked with messages."""
import dataclasses

import pytest

from samplegen.anchors.config import (METHODS, FcosConfig, GridAnchorConfig, SsdConfig, config_keys,
                                      load_method_config, rpn_assigner)
from samplegen.errors import ConfigError


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_preset_builds_and_round_trips(method):
    cfg, layered = load_method_config(method)
    rebuilt, _ = load_method_config(method, dataclasses.asdict(cfg))
    assert rebuilt == cfg
    assert all(src.startswith("preset:") for src in layered.sources.values())


def test_ssd_is_an_alias_of_ssd300():
    assert load_method_config("ssd")[0] == load_method_config("ssd300")[0]
    assert isinstance(load_method_config("ssd")[0], SsdConfig)


def test_families():
    assert isinstance(load_method_config("fpn")[0], GridAnchorConfig)
    assert isinstance(load_method_config("fcos")[0], FcosConfig)


def test_rpn_numbers_come_from_the_preset():
    cfg, _ = load_method_config("faster_rcnn")
    params = rpn_assigner(cfg)
    assert (params.pos_iou_thr, params.neg_iou_thr, params.min_pos_iou) == (0.7, 0.3, 0.3)
    assert cfg.sampler_num == 256 and cfg.pos_fraction == 0.5


def test_override_is_recorded_with_its_source():
    cfg, layered = load_method_config("retinanet", {"pos_iou_thr": 0.6}, source="cli")
    assert cfg.pos_iou_thr == 0.6 and layered.sources["pos_iou_thr"] == "cli"


def test_unknown_method_and_unknown_key():
    with pytest.raises(ConfigError, match="unknown anchor method"):
        load_method_config("yolo9000")
    with pytest.raises(ConfigError, match="unknown key 'pos_iou'"):
        load_method_config("fpn", {"pos_iou": 0.5})


def test_neg_above_pos_is_rejected_naming_both():
    with pytest.raises(ConfigError, match="neg_iou_thr.*0.7"):
        load_method_config("fpn", {"neg_iou_thr": 0.8})


def test_neg_interval_is_accepted():
    cfg, _ = load_method_config("fpn", {"neg_iou_thr": [0.1, 0.3]})
    assert cfg.neg_iou_thr == (0.1, 0.3)


def test_stage_must_fit_the_method():
    with pytest.raises(ConfigError, match="stage"):
        load_method_config("retinanet", {"stage": "rpn"})
    assert load_method_config("fpn", {"stage": "rcnn"})[0].stage == "rcnn"


def test_level_lists_must_match_strides():
    with pytest.raises(ConfigError, match="regress_ranges"):
        load_method_config("fcos", {"regress_ranges": [[-1, 64]]})


def test_explicit_ssd_sizes_need_both_lists():
    with pytest.raises(ConfigError, match="sizes"):
        load_method_config("ssd300", {"min_sizes": [30, 60, 111, 162, 213, 264]})
    cfg, _ = load_method_config("ssd300", {"sizes": "explicit", "min_sizes": [1, 2, 3, 4, 5, 6],
                                           "max_sizes": [2, 3, 4, 5, 6, 7]})
    assert cfg.min_sizes == (1, 2, 3, 4, 5, 6)


def test_config_keys_are_the_field_names():
    assert "center_sampling" in config_keys("fcos")
