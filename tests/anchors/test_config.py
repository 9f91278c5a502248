"""Method configs: every preset builds and validates; nested overrides are checked with messages."""
import dataclasses

import pytest

from samplegen.anchors.config import FcosConfig, GridAnchorConfig, SsdConfig
from samplegen.anchors.methods import METHODS, anchor_config, method_of
from samplegen.config.resolve import resolve
from samplegen.errors import ConfigError


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_preset_builds_and_round_trips(method):
    cfg = anchor_config(method, environ={})
    rebuilt = anchor_config(method, dataclasses.asdict(cfg), environ={})
    assert rebuilt == cfg
    resolved = resolve(METHODS[method].preset, environ={})
    assert all(src.startswith("preset:") for src in resolved.sources.values())


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_preset_is_nested_by_concept(method):
    values = resolve(METHODS[method].preset, environ={}).method_values
    assert {"method", "compat", "input"} <= set(values) and isinstance(values["input"], dict)
    sections = [k for k, v in values.items() if isinstance(v, dict)]
    assert len(sections) >= 3, sections          # input plus the method's own concepts
    assert method_of(anchor_config(method, environ={})).label is METHODS[method].label


def test_ssd_is_an_alias_of_ssd300():
    assert anchor_config("ssd") == anchor_config("ssd300")
    assert isinstance(anchor_config("ssd"), SsdConfig)


def test_families():
    assert isinstance(anchor_config("fpn"), GridAnchorConfig)
    assert isinstance(anchor_config("fcos"), FcosConfig)


def test_rpn_numbers_come_from_the_preset():
    cfg = anchor_config("faster_rcnn")
    a = cfg.assigner
    assert (a.pos_iou_thr, a.neg_iou_thr, a.min_pos_iou) == (0.7, 0.3, 0.3)
    assert cfg.sampler.num == 256 and cfg.sampler.pos_fraction == 0.5
    assert cfg.rcnn.sampler.num == 512 and cfg.rcnn.coder.target_stds == (0.1, 0.1, 0.2, 0.2)


def test_dotted_override_is_recorded_with_its_source():
    resolved = resolve(METHODS["retinanet"].preset, overrides={"assigner.pos_iou_thr": 0.6}, environ={})
    assert resolved.method_values["assigner"]["pos_iou_thr"] == 0.6
    assert resolved.sources["assigner.pos_iou_thr"] == "command line"
    assert resolved.sources["assigner.neg_iou_thr"] == "preset:anchors/retinanet.yaml"
    assert anchor_config("retinanet", {"assigner.pos_iou_thr": 0.6}).assigner.pos_iou_thr == 0.6


def test_environment_sets_nested_keys_and_is_named_in_errors():
    env = {"SAMPLEGEN_ASSIGNER__POS_IOU_THR": "0.6"}
    assert anchor_config("fpn", environ=env).assigner.pos_iou_thr == 0.6
    with pytest.raises(ConfigError, match="environment:SAMPLEGEN_ASSIGNER__POS_IOU_THR.*pos_iou_thr"):
        anchor_config("fpn", environ={"SAMPLEGEN_ASSIGNER__POS_IOU_THR": "high"})


@pytest.mark.parametrize("old, new", [("pos_iou_thr", "assigner.pos_iou_thr"), ("sampler_num", "sampler.num"),
                                      ("rcnn_pos_iou_thr", "rcnn.assigner.pos_iou_thr"),
                                      ("strides", "prior_generator.strides"), ("resize_scale", "input.resize_scale"),
                                      ("gt_level", "roi_level")])
def test_old_flat_keys_are_refused_naming_the_new_key(old, new):
    with pytest.raises(ConfigError, match=f"'{old}' is now '{new}'"):
        anchor_config("fpn", {old: 1})


def test_old_flat_keys_of_the_other_families():
    with pytest.raises(ConfigError, match="'neg_sampling' is now 'neg_mining.sampling'"):
        anchor_config("ssd300", {"neg_sampling": "random"})
    with pytest.raises(ConfigError, match="'point_offset' is now 'prior_generator.offset'"):
        anchor_config("fcos", {"point_offset": 0.0})
    with pytest.raises(ConfigError, match="'topk' is now 'assigner.topk'"):
        anchor_config("atss", {"topk": 3})


def test_unknown_method_and_unknown_key():
    with pytest.raises(ConfigError, match="unknown anchor method"):
        anchor_config("yolo9000")
    with pytest.raises(ConfigError, match="unknown key 'assigner.pos_iou'"):
        anchor_config("fpn", {"assigner.pos_iou": 0.5})


def test_a_section_given_a_scalar_names_its_keys():
    with pytest.raises(ConfigError, match="'sampler' must be a mapping.*type"):
        anchor_config("fpn", {"sampler": "random"})


def test_neg_above_pos_is_rejected_naming_both():
    with pytest.raises(ConfigError, match="assigner.neg_iou_thr.*0.7"):
        anchor_config("fpn", {"assigner.neg_iou_thr": 0.8})


def test_neg_interval_is_accepted():
    assert anchor_config("fpn", {"assigner.neg_iou_thr": [0.1, 0.3]}).assigner.neg_iou_thr == (0.1, 0.3)


def test_stage_must_fit_the_method():
    with pytest.raises(ConfigError, match="stage"):
        anchor_config("retinanet", {"stage": "rpn"})
    assert anchor_config("fpn", {"stage": "rcnn"}).stage == "rcnn"
    with pytest.raises(ConfigError, match="'rcnn' is required"):
        anchor_config("retinanet", {"stage": "rcnn", "method": "fpn"})


def test_pseudo_sampler_takes_no_budget():
    with pytest.raises(ConfigError, match="sampler.num.*pseudo"):
        anchor_config("retinanet", {"sampler.num": 256})


def test_level_lists_must_match_strides():
    with pytest.raises(ConfigError, match="regress_ranges"):
        anchor_config("fcos", {"assigner.regress_ranges": [[-1, 64]]})


def test_explicit_ssd_sizes_need_both_lists():
    with pytest.raises(ConfigError, match="sizes"):
        anchor_config("ssd300", {"prior_generator.min_sizes": [30, 60, 111, 162, 213, 264]})
    cfg = anchor_config("ssd300", {"prior_generator": {"sizes": "explicit", "min_sizes": [1, 2, 3, 4, 5, 6],
                                                       "max_sizes": [2, 3, 4, 5, 6, 7]}})
    assert cfg.prior_generator.min_sizes == (1, 2, 3, 4, 5, 6)


def test_method_of_another_family_is_refused():
    with pytest.raises(ConfigError, match="method"):
        anchor_config("fpn", {"method": "retinanet_x"})
