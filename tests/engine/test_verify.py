"""`samplegen verify OUT_DIR` and the damaged-shard helpers readers use."""
from __future__ import annotations

import json

import pytest

import samplegen.cli as sgcli
from samplegen.engine.verify import require_intact_size, verify_output
from samplegen.errors import ConfigError, Interrupted, RunError
from tests.engine.test_run import run


def _verify_cli(out, capsys) -> tuple[int, dict, list[str]]:
    with pytest.raises(SystemExit) as exit_info:
        sgcli.main(["verify", str(out)])
    captured = capsys.readouterr()
    return exit_info.value.code, json.loads(captured.out), captured.err.splitlines()


def test_an_intact_run_verifies(tmp_path, capsys):
    outcome = run(tmp_path)
    report = verify_output(tmp_path)
    assert report.ok and report.complete and report.files == 5
    assert report.bytes == outcome.manifest["totals"]["bytes"]
    code, printed, err = _verify_cli(tmp_path, capsys)
    assert code == 0 and printed["ok"] and err == []


def test_every_damage_is_listed_with_exit_1(tmp_path, capsys):
    run(tmp_path)
    (tmp_path / "part-000001.tar").write_bytes(b"\0" * (tmp_path / "part-000001.tar").stat().st_size)
    (tmp_path / "part-000003.tar").unlink()
    data = (tmp_path / "part-000004.tar").read_bytes()
    (tmp_path / "part-000004.tar").write_bytes(data[:-512])
    (tmp_path / "part-000099.tar").write_bytes(b"stale")
    (tmp_path / ".part-000005.tar.tmp-host-1-abcd").write_bytes(b"half")
    code, printed, err = _verify_cli(tmp_path, capsys)
    problems = {p["file"]: p["problem"] for p in printed["problems"]}
    assert code == 1 and not printed["ok"]
    assert problems == {
        "part-000001.tar": "content differs from the manifest (SHA-256)",
        "part-000003.tar": "missing",
        "part-000004.tar": f"{len(data) - 512:,} bytes, the manifest says {len(data):,}",
        "part-000099.tar": "not listed in the manifest (left by another run?)",
        ".part-000005.tar.tmp-host-1-abcd": "temporary file of an interrupted run",
    }
    assert len(err) == 6 and err[-1].startswith(f"samplegen: {tmp_path}: 5 problems")


def test_an_unfinished_run_does_not_verify(tmp_path):
    with pytest.raises(Interrupted):
        run(tmp_path, job_kwargs={"interrupt_at": 2})
    report = verify_output(tmp_path)
    assert not report.ok and not report.complete
    assert report.problems == (("manifest.json", "run incomplete: 2 of 5 planned shards; rerun with --resume"),)


def test_verify_refuses_folders_without_a_samplegen_manifest(tmp_path):
    with pytest.raises(ConfigError, match="no manifest.json"):
        verify_output(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": []}))
    with pytest.raises(ConfigError, match="not written by samplegen"):
        verify_output(tmp_path)


def test_a_truncated_shard_is_named_as_damaged(tmp_path):
    outcome = run(tmp_path)
    record = outcome.manifest["shards"][2]["files"][0]
    assert require_intact_size(tmp_path, record) == tmp_path / record["name"]
    path = tmp_path / record["name"]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(RunError, match=rf"{record['name']}: damaged shard \(1,000 bytes, the manifest says"):
        require_intact_size(tmp_path, record)
    path.unlink()
    with pytest.raises(RunError, match=r"damaged shard \(missing\)"):
        require_intact_size(tmp_path, record)
