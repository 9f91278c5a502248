"""Configuration: layered values with sources (`layers`), typed dataclasses (`build`), and a
command's resolution of presets, file, environment and command line (`resolve`)."""
from samplegen.config.build import build_dataclass, fail, where
from samplegen.config.layers import (
    Layered, canonical_json, environment_overrides, load_preset, load_yaml, nest, parse_assignments,
    parse_value, parse_yaml, preset_text)
from samplegen.config.resolve import EngineValues, Resolved, resolve

__all__ = ["EngineValues", "Layered", "Resolved", "build_dataclass", "canonical_json",
           "environment_overrides", "fail", "load_preset", "load_yaml", "nest", "parse_assignments",
           "parse_value", "parse_yaml", "preset_text", "resolve", "where"]
