"""Layered values: nesting dotted keys, ``--set`` assignments, value parsing."""
from __future__ import annotations

import pytest

from samplegen.config.layers import Layered, leaf_paths, nest, parse_assignments, parse_value
from samplegen.errors import ConfigError


def test_nest_turns_dotted_keys_into_mappings_and_merges_siblings():
    assert nest({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}
    assert nest({"a": {"b": 1}, "a.c": 2}) == {"a": {"b": 1, "c": 2}}
    with pytest.raises(ConfigError, match="'a.b'"):
        nest({"a": 1, "a.b": 2})


def test_set_assignments_parse_keys_and_values():
    assert parse_assignments(["assigner.pos_iou_thr=0.6", "ratios=[0.5, 1, 2]", "name=x=y"]) == {
        "assigner": {"pos_iou_thr": 0.6}, "ratios": [0.5, 1, 2], "name": "x=y"}
    for bad in ("no_equals", "=3", "a..b=1", "1a=2"):
        with pytest.raises(ConfigError, match="KEY=VALUE"):
            parse_assignments([bad])
    with pytest.raises(ConfigError, match="not a valid JSON list"):
        parse_assignments(["ratios=[0.5, "])


def test_parse_value_keeps_text_that_is_no_number():
    assert parse_value("0x10", "X") == "0x10" and parse_value(" 7 ", "X") == 7 and parse_value("False", "X") is False


def test_leaf_paths_and_merge_replace_whole_sections():
    layered = Layered({}, {}).merge({"a": {"b": 1, "c": [1, 2]}, "d": None}, "preset")
    assert sorted(leaf_paths(layered.values)) == ["a.b", "a.c", "d"]
    replaced = layered.merge({"a": None}, "cli")
    assert replaced.values["a"] is None and "a.b" not in replaced.sources and replaced.sources["a"] == "cli"
