"""Layered configuration: preset < --config file < SAMPLEGEN_* environment < command line."""
from __future__ import annotations

import dataclasses
import json

import pytest

from samplegen.config import Layered, build_dataclass, load_preset, parse_yaml, resolve
from samplegen.errors import ConfigError


def test_precedence_cli_over_set_over_environment_over_file_over_preset(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("seed: 5\nshard_size: 7\nneg_per_image: 40\npos_attempts: 11\nlandmark:\n  attempts: 4\n")
    env = {"SAMPLEGEN_SHARD_SIZE": "9", "SAMPLEGEN_POS_ATTEMPTS": "13", "SAMPLEGEN_LANDMARK__ATTEMPTS": "6",
           "SAMPLEGEN_NEG_PER_IMAGE": "41"}
    resolved = resolve("mtcnn/pnet.yaml", config_file=config, environ=env,
                       overrides={"neg_per_image": 42}, explicit={"seed": 8, "pad": None})
    values, sources = resolved.layered.values, resolved.sources
    assert (values["seed"], sources["seed"]) == (8, "command line")
    assert (values["shard_size"], sources["shard_size"]) == (9, "environment:SAMPLEGEN_SHARD_SIZE")
    assert (values["pos_attempts"], sources["pos_attempts"]) == (13, "environment:SAMPLEGEN_POS_ATTEMPTS")
    assert (values["landmark"]["attempts"], sources["landmark.attempts"]) == (6, "environment:SAMPLEGEN_LANDMARK__ATTEMPTS")
    assert (values["neg_per_image"], sources["neg_per_image"]) == (42, "command line")
    assert (values["min_face"], sources["min_face"]) == (20, "preset:mtcnn/pnet.yaml")
    assert sources["max_errors"] == "preset:engine.yaml"
    engine, method = resolved.engine(), resolved.method_values
    assert engine.seed == 8 and "seed" not in method and method["pos_attempts"] == 13
    assert "workers" not in resolved.decisive() and resolved.decisive()["seed"] == 8


@pytest.mark.parametrize("text, value", [("010", 10), ("-3", -3), ("1:30", "1:30"), ("0.5", 0.5), ("true", True),
                                         ("null", None), ("[1, 3, 1, 0]", [1, 3, 1, 0]), ("abc", "abc"),
                                         ("nan", "nan"), ("1e400", "1e400")])
def test_environment_values_follow_the_command_lines_rules_not_yaml_11(text, value):
    resolved = resolve("mtcnn/pnet.yaml", environ={"SAMPLEGEN_MIN_FACE": text})
    assert resolved.layered.values["min_face"] == value


def test_engine_values_are_checked_naming_the_variable():
    with pytest.raises(ConfigError, match="environment:SAMPLEGEN_SEED: 'seed' must be an integer, got 'abc'"):
        resolve("mtcnn/pnet.yaml", environ={"SAMPLEGEN_SEED": "abc"}).engine()
    with pytest.raises(ConfigError, match="'seed' must be >= 0"):
        resolve("mtcnn/pnet.yaml", explicit={"seed": -1}).engine()
    with pytest.raises(ConfigError, match="'workers' must be >= 1"):
        resolve("mtcnn/pnet.yaml", environ={"SAMPLEGEN_WORKERS": "0"}).engine()


def test_yaml_aliases_and_deep_nesting_are_refused():
    with pytest.raises(ConfigError, match="aliases"):
        parse_yaml("a: &x [1, 2]\nb: *x\n", "c.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n", "c.yaml")


def test_a_config_file_must_be_utf8(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes("seed: 3\n".encode("utf-16"))
    with pytest.raises(ConfigError, match="UTF-8"):
        resolve("mtcnn/pnet.yaml", config_file=path)


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
    assert manifest["seed"] == 3 and manifest["config_sources"]["seed"] == "environment:SAMPLEGEN_SEED"
    assert manifest["config_sources"]["shard_size"] == "command line"
    assert manifest["config"]["shard_size"] == 1 and "workers" not in manifest["config"]
    assert len(manifest["shards"]) == manifest["planned_shards"] == 4
    summary = json.loads(capsys.readouterr().out)
    assert summary["samples"] == sum(s["samples"] for s in manifest["shards"])


def test_config_file_numbers_read_as_on_the_command_line(tmp_path):
    # YAML 1.1 would make 010 octal (8), 1:30 base 60 (90) and 1e-3 a string.
    values = parse_yaml("seed: 010\nshard_size: 1:30\nthr: 1e-3\nneg: -2\nlist: [1, 0.5]\n", "c.yaml")
    assert values == {"seed": 10, "shard_size": "1:30", "thr": 0.001, "neg": -2, "list": [1, 0.5]}
    path = tmp_path / "c.yaml"
    path.write_text("shard_size: 1:30\n")
    with pytest.raises(ConfigError, match="shard_size"):
        resolve("mtcnn/pnet.yaml", config_file=path).engine()
