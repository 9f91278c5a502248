"""``--out s3://BUCKET/PREFIX`` and ``--out file:///ABS`` end to end (anchors, detect, verify) against a
local S3 server (moto): the objects are the bytes of the local run's files, manifest included; a
damaged object is found by ``samplegen verify`` and rewritten by ``--resume --verify``. Skipped
without moto/s3fs."""
from __future__ import annotations

import pytest

from tests.cli.helpers import ok, run_cli, run_inproc, tree_bytes
from tests.engine import s3

if not s3.AVAILABLE:
    pytest.skip(s3.SKIP_REASON, allow_module_level=True)

# --workers is always given: the manifest's config_sources says where its value came from.
ANCHORS = ["anchors", "--method", "ssd300", "--with-images", "--shard-size", "1", "--no-progress", "--workers", "1"]
DETECT = ["detect", "--shard-size", "1", "--no-progress", "--workers", "1"]


@pytest.fixture(scope="module")
def server():
    return s3.S3Server.start()


@pytest.fixture(scope="module")
def local_runs(tmp_path_factory) -> dict:
    """The embedded samples run into local folders: command -> (summary, files)."""
    base = tmp_path_factory.mktemp("local")
    found = {}
    for name, args in (("anchors", ANCHORS), ("detect", DETECT)):
        summary = ok(run_inproc([*args, "--out", base / name]))
        found[name] = (summary, tree_bytes(base / name))
    return found


@pytest.mark.parametrize("command", ["anchors", "detect"])
def test_an_s3_output_holds_the_bytes_of_the_local_run(server, local_runs, command):
    url = f"s3://{server.bucket()}/runs/{command}"
    summary = ok(run_inproc([*(ANCHORS if command == "anchors" else DETECT), "--out", url, "--workers", 2]))
    local_summary, local_files = local_runs[command]
    assert server.objects(url) == local_files
    assert summary["out"] == url
    assert {k: v for k, v in summary.items() if k != "out"} == {k: v for k, v in local_summary.items() if k != "out"}


def test_verify_finds_a_damaged_object_and_resume_verify_rewrites_it(server, local_runs):
    url = f"s3://{server.bucket()}/anchors"
    ok(run_inproc([*ANCHORS, "--out", url]))
    checked = ok(run_cli(["verify", url]))
    assert checked["ok"] and checked["out"] == url and checked["files"] == 2
    victim = f"{url}/ssd300-000001.tar"
    data = bytearray(server.get(victim))
    data[len(data) // 2] ^= 0xFF
    server.put(victim, bytes(data))
    damaged = run_cli(["verify", url])
    assert damaged.code == 1
    assert damaged.json()["problems"] == [{"file": "ssd300-000001.tar",
                                           "problem": "content differs from the manifest (SHA-256)"}]
    assert f"samplegen: {victim}: content differs from the manifest (SHA-256)" in damaged.stderr
    # Without --verify the same finished run is "already complete" (sizes hold); --verify hashes.
    resumed = ok(run_cli([*ANCHORS, "--out", url, "--resume", "--verify"]))
    assert resumed["resumed_shards"] == 1
    assert server.objects(url) == local_runs["anchors"][1]
    assert ok(run_cli(["verify", url]))["ok"]


def test_a_file_url_is_the_plain_path_byte_for_byte(tmp_path, local_runs):
    target = tmp_path / "by-url"
    url = target.as_uri()
    summary = ok(run_cli([*ANCHORS, "--out", url]))
    assert summary["out"] == url
    assert tree_bytes(target) == local_runs["anchors"][1]
    assert ok(run_cli(["verify", url]))["ok"]


def test_library_calls_take_the_url(server, local_runs):
    import samplegen

    url = f"s3://{server.bucket()}/lib"
    summary = samplegen.run_anchors("ssd300", with_images=True, shard_size=1, workers=1, out=url)
    assert summary.as_json()["out"] == url
    assert server.objects(url) == local_runs["anchors"][1]


def test_storage_mistakes_are_one_line(server, tmp_path):
    missing = run_cli([*ANCHORS, "--out", "s3://no-such-bucket-anywhere/run"])
    assert missing.code == 1
    assert missing.stderr.strip().splitlines() == [
        "samplegen: s3://no-such-bucket-anywhere/run: no such bucket (or no access to it)"]
    # An endpoint that refuses connections: tried 3 times (botocore's own retries off), then one line.
    unreachable = run_cli([*ANCHORS, "--out", "s3://bucket/run"],
                          env={"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"})
    assert unreachable.code == 1
    assert unreachable.stderr.strip().splitlines() == [
        'samplegen: s3://bucket/run: Could not connect to the endpoint URL: "http://127.0.0.1:9/bucket" '
        "(EndpointConnectionError)"]
    unknown = run_cli([*ANCHORS, "--out", "nosuchproto://bucket/run"])
    assert unknown.code == 2 and unknown.stderr.count("\n") == 1 and "nosuchproto" in unknown.stderr
    other_host = run_cli([*ANCHORS, "--out", "file://otherhost/run"])
    assert other_host.code == 2 and "absolute path on this machine" in other_host.stderr


def test_fsspec_is_needed_only_for_a_url(tmp_path):
    """Without fsspec (``import fsspec`` failing, as when it is not installed): a local run works,
    an s3:// one is refused naming the extra to install."""
    import subprocess
    import sys

    def without_fsspec(*args) -> subprocess.CompletedProcess:
        code = ("import sys; sys.modules['fsspec'] = None; sys.modules['s3fs'] = None\n"
                "from samplegen.cli import main; main(sys.argv[1:])")
        return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)

    local = without_fsspec(*ANCHORS, "--out", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    remote = without_fsspec(*ANCHORS, "--out", "s3://bucket/run")
    assert remote.returncode == 2
    assert remote.stderr == ('samplegen: s3://bucket/run: object storage needs fsspec and its s3:// driver: '
                             'pip install "samplegen[s3]"\n')


MTCNN = ["mtcnn", "--size", "12", "--shard-size", "1", "--no-progress", "--workers", "1"]


@pytest.mark.parametrize("layout", ["packed", "tfrecord"])
def test_mtcnn_into_s3_is_the_local_run(server, tmp_path, layout):
    # tfrecord merges its shards at the end: the spool downloads them for it (finalize_reads_shards).
    args = [*MTCNN, "--layout", layout]
    ok(run_inproc([*args, "--out", tmp_path / "local"]))
    url = f"s3://{server.bucket()}/mtcnn-{layout}"
    summary = ok(run_inproc([*args, "--out", url, "--workers", 2]))
    assert summary["out"] == url
    assert server.objects(url) == tree_bytes(tmp_path / "local")


def test_mining_into_s3_keeps_its_boxes_there_until_the_run_is_complete(server, tmp_path):
    # --size 24 on the embedded sample mines with its PNet; a refused run leaves the boxes it
    # detected under _mined/, the next run takes them, and the complete run removes them.
    args = ["mtcnn", "--size", "24", "--shard-size", "1", "--no-progress", "--workers", "2"]
    url = f"s3://{server.bucket()}/mining"
    ok(run_inproc([*args, "--seed", "1", "--out", url]))
    refused = run_cli([*args, "--seed", "2", "--out", url])
    assert refused.code == 2 and "another configuration" in refused.stderr
    assert [name for name in server.objects(url) if name.startswith("_mined/")]
    again = run_cli([*args, "--seed", "2", "--out", url, "--overwrite"])
    assert again.code == 0 and "reused the boxes of 2 images" in again.stderr, again.stderr
    ok(run_inproc([*args, "--seed", "2", "--out", tmp_path / "local"]))
    assert server.objects(url) == tree_bytes(tmp_path / "local")


def test_mtcnn_list_layout_and_readers_refuse_a_remote_out_in_one_line(server, tmp_path):
    url = f"s3://{server.bucket()}/mtcnn-list"
    refused = run_cli([*MTCNN, "--layout", "list", "--out", url])
    assert refused.code == 2 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        f"samplegen: {url}: the list layout writes dozens of files per image, too many for object storage; "
        "choose --layout packed, wds or tfrecord for a remote --out"]
    assert server.objects(url) == {}
    ok(run_inproc([*MTCNN, "--out", url]))
    stats = run_cli(["stats", url])
    assert stats.code == 2 and stats.stderr.count("\n") == 1 and "copy it first" in stats.stderr

    import samplegen
    from samplegen.errors import ConfigError

    with pytest.raises(ConfigError, match="copy it first"):
        next(samplegen.read_mtcnn(url))
    local = tmp_path / "by-url"
    ok(run_inproc([*MTCNN, "--out", local]))
    assert len(list(samplegen.read_mtcnn(local.as_uri()))) == len(list(samplegen.read_mtcnn(local)))
