"""Layered configuration: preset < --config file < SAMPLEGEN_* environment < command line."""
from __future__ import annotations

import dataclasses
import json

import pytest

from samplegen.cli.options import EngineOptions, resolve_config, split_engine
from samplegen.config import Layered, build_dataclass, load_preset, parse_yaml
from samplegen.errors import ConfigError


def options(tmp_path, config=None, **kwargs) -> EngineOptions:
    values = dict(out=None, workers=None, seed=None, shard_size=None, max_errors=None, resume=False,
                  overwrite=False, progress=False, config=config)
    values.update(kwargs)
    return EngineOptions(**values)


def test_precedence_cli_over_environment_over_file_over_preset(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("seed: 5\nshard_size: 7\nneg_per_image: 40\npos_attempts: 11\n")
    monkeypatch.setenv("SAMPLEGEN_SHARD_SIZE", "9")
    monkeypatch.setenv("SAMPLEGEN_POS_ATTEMPTS", "13")
    layered = resolve_config("mtcnn/pnet.yaml", options(tmp_path, config, seed=8), {"pad": None})
    values, sources = layered.values, layered.sources
    assert (values["seed"], sources["seed"]) == (8, "command line")
    assert (values["shard_size"], sources["shard_size"]) == (9, "environment")
    assert (values["pos_attempts"], sources["pos_attempts"]) == (13, "environment")
    assert (values["neg_per_image"], sources["neg_per_image"]) == (40, f"file:{config}")
    assert (values["min_face"], sources["min_face"]) == (20, "preset:mtcnn/pnet.yaml")
    assert sources["max_errors"] == "preset:engine.yaml"
    engine, method = split_engine(layered)
    assert engine["seed"] == 8 and "seed" not in method and method["pos_attempts"] == 13


def test_nested_override_keeps_sibling_values_and_their_sources():
    base = load_preset("mtcnn/pnet.yaml")
    merged = base.merge({"landmark": {"attempts": 3}}, "file:x.yaml")
    assert merged.values["landmark"]["attempts"] == 3
    assert merged.values["landmark"]["mirror_prob"] == base.values["landmark"]["mirror_prob"]
    assert merged.sources["landmark.attempts"] == "file:x.yaml"
    assert merged.sources["landmark.mirror_prob"] == "preset:mtcnn/pnet.yaml"
    assert base.values["landmark"]["attempts"] == 10  # merge does not mutate


def test_fingerprint_follows_values_not_sources():
    a = Layered({"x": 1, "y": [1, 2]}, {"x": "preset"})
    assert a.fingerprint() == Layered({"y": [1, 2], "x": 1}, {"x": "cli"}).fingerprint()
    assert a.fingerprint() != Layered({"x": 2, "y": [1, 2]}, {}).fingerprint()


@dataclasses.dataclass(frozen=True)
class Inner:
    thr: float


@dataclasses.dataclass(frozen=True)
class Outer:
    count: int
    sizes: tuple[int, ...]
    inner: Inner
    name: str = "x"


def test_build_dataclass_converts_and_validates():
    built = build_dataclass(Outer, {"count": 3, "sizes": [1, 2], "inner": {"thr": 1}})
    assert built == Outer(3, (1, 2), Inner(1.0))
    with pytest.raises(ConfigError, match=r"config file:a.yaml: unknown key 'inner.bogus'"):
        build_dataclass(Outer, {"count": 3, "sizes": [], "inner": {"thr": 1, "bogus": 2}},
                        {"inner.bogus": "file:a.yaml"})
    with pytest.raises(ConfigError, match="'count' must be an integer"):
        build_dataclass(Outer, {"count": "3", "sizes": [], "inner": {"thr": 1}})
    with pytest.raises(ConfigError, match="'count' must be an integer"):
        build_dataclass(Outer, {"count": True, "sizes": [], "inner": {"thr": 1}})
    with pytest.raises(ConfigError, match="missing required key 'inner'"):
        build_dataclass(Outer, {"count": 3, "sizes": []})


def test_bad_yaml_names_file_and_line():
    with pytest.raises(ConfigError, match=r"c.yaml:2: invalid YAML"):
        parse_yaml("a: 1\n  b: 2\n", "c.yaml")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        parse_yaml("- 1\n- 2\n", "c.yaml")


def test_unknown_key_in_config_file_is_exit_2_naming_the_file(tmp_path, capsys):
    from samplegen.cli import main

    config = tmp_path / "bad.yaml"
    config.write_text("pos_atempts: 3\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["mtcnn", "--config", str(config), "--dry-run"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1
    assert f"file:{config}" in captured.err and "unknown key 'pos_atempts'" in captured.err


def test_manifest_records_sources(tmp_path, monkeypatch, capsys):
    from samplegen.cli import main

    monkeypatch.setenv("SAMPLEGEN_SEED", "3")
    with pytest.raises(SystemExit) as exit_info:
        main(["mtcnn", "--out", str(tmp_path / "o"), "--no-progress", "--shard-size", "1"])
    assert exit_info.value.code == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["config_sources"]["seed"] == "environment"
    assert manifest["config_sources"]["shard_size"] == "command line"
    assert manifest["config"]["shard_size"] == 1 and "workers" not in manifest["config"]
    assert len(manifest["shards"]) == manifest["planned_shards"] == 4
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == sum(s["samples"] for s in manifest["shards"])
