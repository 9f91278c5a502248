"""What a run may do to its output folder: --overwrite never leaves it, foreign manifests are left
alone, shard-named leftovers are removed (or refused when no manifest says whose they are)."""
from __future__ import annotations

import hashlib
import json

import pytest

from samplegen.errors import ConfigError
from tests.engine.test_run import folder_bytes, run


def _edit_manifest(out, edit) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    edit(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("hostile", ["../victim", "ABSOLUTE", "notes.csv", "sub/part-000000.tar", ""])
def test_overwrite_refuses_a_manifest_naming_files_it_would_not_write(tmp_path, hostile):
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    run(out)
    (out / "notes.csv").write_text("mine")
    name = str(victim) if hostile == "ABSOLUTE" else hostile
    _edit_manifest(out, lambda m: m["shards"][1]["files"][0].update(name=name))
    before = folder_bytes(out)
    with pytest.raises(ConfigError, match="not a samplegen output file"):
        run(out, overwrite=True)
    with pytest.raises(ConfigError, match="not a samplegen output file"):
        run(out, resume=True)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert folder_bytes(out) == before, "nothing may be touched when the manifest is refused"


@pytest.mark.parametrize("flags", [{}, {"resume": True}, {"overwrite": True}])
def test_a_foreign_manifest_is_never_deleted_or_replaced(tmp_path, flags):
    foreign = json.dumps({"shards": [{"index": 0, "files": [{"name": "part-000000.tar"}]}]}).encode()
    (tmp_path / "manifest.json").write_bytes(foreign)
    (tmp_path / "part-000000.tar").write_bytes(b"someone else's")
    with pytest.raises(ConfigError, match='not written by samplegen'):
        run(tmp_path, **flags)
    assert (tmp_path / "manifest.json").read_bytes() == foreign
    assert (tmp_path / "part-000000.tar").read_bytes() == b"someone else's"


def test_an_unreadable_manifest_is_left_alone_even_with_overwrite(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable manifest.*leaves this folder alone"):
        run(tmp_path, overwrite=True)
    assert (tmp_path / "manifest.json").read_text() == "{not json"


def test_shard_named_files_without_a_manifest_are_refused(tmp_path):
    (tmp_path / "part-000007.tar").write_bytes(b"x")
    (tmp_path / "readme.txt").write_text("a user's file is fine")
    for flags in ({}, {"overwrite": True}):
        with pytest.raises(ConfigError, match=r"part-000007\.tar.*no manifest\.json"):
            run(tmp_path, **flags)
    assert (tmp_path / "part-000007.tar").read_bytes() == b"x"


def test_overwrite_removes_listed_and_stale_shards_and_keeps_other_files(tmp_path):
    fresh = tmp_path / "fresh"
    run(fresh, job_kwargs={"missing": ("img001",)}, max_errors=1)
    out = tmp_path / "out"
    run(out)
    (out / "part-000042.tar").write_bytes(b"an older run's shard the manifest forgot")
    (out / "part-000043").mkdir()  # a list-layout shard folder
    (out / "part-000043" / "x.png").write_bytes(b"png")
    (out / "my-notes.txt").write_text("not a shard name")
    run(out, job_kwargs={"missing": ("img001",)}, max_errors=1, overwrite=True)
    left = folder_bytes(out)
    assert left.pop("my-notes.txt") == b"not a shard name"
    assert left == folder_bytes(fresh)
    assert not (out / "part-000043").exists()


def test_resume_removes_shards_the_manifest_does_not_list(tmp_path):
    reference = tmp_path / "ref"
    run(reference)
    out = tmp_path / "out"
    run(out)
    (out / "part-000077.tar").write_bytes(b"stale")
    # a shard committed after the manifest's last rewrite (a kill between the two)
    _edit_manifest(out, lambda m: m.update(shards=m["shards"][:3], complete=False))
    outcome = run(out, resume=True)
    assert outcome.resumed_shards == 3
    assert folder_bytes(out) == folder_bytes(reference)
    assert len(list(out.glob("*.tar"))) == outcome.manifest["totals"]["shards"]


def test_a_symlink_named_like_a_shard_is_removed_not_followed(tmp_path):
    out, target = tmp_path / "out", tmp_path / "target"
    target.mkdir()
    (target / "keep.bin").write_bytes(b"k")
    run(out)
    (out / "part-000050").symlink_to(target, target_is_directory=True)
    run(out, overwrite=True)
    assert not (out / "part-000050").is_symlink()
    assert (target / "keep.bin").read_bytes() == b"k"


def test_overwrite_removes_a_listed_merged_file_only_if_it_is_the_one_recorded(tmp_path, capsys):
    run(tmp_path)
    (tmp_path / "pos_12.txt").write_text("written by the run\n")
    (tmp_path / "thesis.txt").write_text("a user's file a forged record names\n")
    def add_extras(m):
        ours = (tmp_path / "pos_12.txt").read_bytes()
        m["totals"]["extra_files"] = [
            {"name": "pos_12.txt", "bytes": len(ours), "sha256": hashlib.sha256(ours).hexdigest()},
            {"name": "thesis.txt", "bytes": 36, "sha256": "0" * 64}]
    _edit_manifest(tmp_path, add_extras)
    run(tmp_path, overwrite=True)
    assert not (tmp_path / "pos_12.txt").exists()
    assert (tmp_path / "thesis.txt").read_text() == "a user's file a forged record names\n"
    assert "kept" in capsys.readouterr().err


def test_a_manifest_naming_itself_is_refused(tmp_path):
    run(tmp_path)
    _edit_manifest(tmp_path, lambda m: m["totals"].update(extra_files=[{"name": "manifest.json", "bytes": 1,
                                                                          "sha256": "0" * 64}]))
    with pytest.raises(ConfigError, match="not a samplegen output file"):
        run(tmp_path, overwrite=True)


@pytest.mark.parametrize("flags", [{"overwrite": True}, {"resume": True}])
def test_shard_like_names_of_another_prefix_stop_overwrite_and_resume_untouched(tmp_path, flags):
    # A user's photos inside --out: IMG-000123.jpg matches the shard pattern, but no run here
    # writes the IMG prefix, so samplegen refuses rather than deleting them.
    out = tmp_path / "out"
    run(out)
    (out / "IMG-000123.jpg").write_bytes(b"a photo")
    (out / "photos-000001").mkdir()
    (out / "photos-000001" / "IMG-000124.jpg").write_bytes(b"another")
    before = folder_bytes(out)
    with pytest.raises(ConfigError, match=r"no samplegen run here wrote \(IMG-000123\.jpg, photos-000001\)"):
        run(out, **flags)
    assert folder_bytes(out) == before
    assert (out / "photos-000001" / "IMG-000124.jpg").read_bytes() == b"another"
