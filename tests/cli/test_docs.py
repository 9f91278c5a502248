"""Every command has working --help and is documented in README.md."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.helpers import run_cli, run_inproc

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ["inspect", "mtcnn", "detect", "anchors", "show", "stats", "fit-anchors", "config", "verify"]
LEAF_COMMANDS = ["inspect", "mtcnn", "detect", "anchors", "show mtcnn", "show anchors", "stats", "fit-anchors",
                 "config show", "verify"]


@pytest.mark.parametrize("command", LEAF_COMMANDS)
def test_help_exits_0(command):
    res = run_inproc([*command.split(), "--help"])
    assert res.code == 0
    assert "Usage: " in res.stdout and command.split()[-1] in res.stdout
    assert "--help" in res.stdout


def test_commands_list_is_every_registered_command():
    from samplegen.cli import _register, cli

    _register()
    assert sorted(cli.commands) == sorted(COMMANDS)


def test_group_help_lists_every_command():
    res = run_cli(["--help"])
    assert res.code == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", res.stdout, re.M), command


@pytest.mark.parametrize("command", COMMANDS)
def test_command_in_readme(command):
    readme = REPO / "README.md"
    assert readme.is_file(), "README.md missing"
    assert f"samplegen {command}" in readme.read_text(encoding="utf-8")


def test_mtcnn_options_in_help():
    out = run_inproc(["mtcnn", "--help"]).stdout
    for option in ("--size", "--annotations", "--landmarks", "--detections", "--layout", "--ratio", "--dry-run",
                   "--workers", "--seed", "--resume", "--overwrite", "--max-errors", "--out"):
        assert option in out, option


def test_anchors_options_in_help():
    out = run_inproc(["anchors", "--help"]).stdout
    for option in ("--method", "--priors", "--save", "--with-images", "--stage", "--proposals", "--compat"):
        assert option in out, option
    for method in ("faster_rcnn", "fpn", "ssd300", "ssd512", "retinanet", "fcos"):
        assert method in out, method
