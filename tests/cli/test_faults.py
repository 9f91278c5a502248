"""The CLI under faults: signals, a dying worker, a full / read-only / immutable disk, a second
run, a hostile or foreign output folder. Each ends in one stderr line and a documented exit code,
leaves nothing half-written, and a --resume afterwards gives the bytes of an uninterrupted run."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import samplegen.cli as sgcli
from samplegen.engine.manifest import read_manifest
from samplegen.engine.shard_records import RECORDS_DIR
from samplegen.writers import base
from tests.cli.helpers import REPO, make_coco_subset, ok, run_cli, run_inproc, tree_bytes

LINUX = sys.platform.startswith("linux")
HINT = "completed shards are kept, rerun with --resume"
EMBEDDED = ["mtcnn", "--size", 12, "--workers", 1, "--shard-size", 1, "--no-progress"]


def main(args: list, capsys) -> tuple[int, str, str]:
    """The real entry point in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        sgcli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def assert_clean(out: Path) -> None:
    """Only the manifest, the shards it lists (with those recorded since its last checkpoint, in
    ``_shards/``, while incomplete): no temporary, lock or unlisted shard files."""
    manifest = read_manifest(out)
    listed = {f["name"] for s in manifest["shards"] for f in s["files"]}
    records = out / RECORDS_DIR
    if records.exists():
        assert not manifest["complete"]
        assert all(p.name.endswith(".json") and not p.name.startswith(".") for p in records.iterdir())
        listed.add(RECORDS_DIR)
    assert sorted(p.name for p in out.iterdir()) == sorted(listed | {"manifest.json"})


@pytest.fixture(scope="module")
def embedded_reference(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("embedded") / "ref"
    ok(run_inproc([*EMBEDDED, "--out", out]))
    return tree_bytes(out)


@pytest.fixture(scope="module")
def coco24(shared_data, tmp_path_factory) -> tuple[list, dict[str, bytes]]:
    """Arguments of an anchors run slow enough to interrupt (24 real COCO images, one per shard,
    decoded for --with-images), and the bytes of the uninterrupted run."""
    folder = tmp_path_factory.mktemp("coco24")
    ann = make_coco_subset(shared_data, folder / "coco24.json", n=24)
    args = ["anchors", "--method", "fpn", "--annotations", ann, "--images",
            shared_data / "coco128" / "images" / "train2017", "--with-images", "--shard-size", 1, "--no-progress"]
    ok(run_inproc([*args, "--workers", 1, "--out", folder / "ref"]))
    return args, tree_bytes(folder / "ref")


def _session_alive(sid: int) -> list[int]:
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _pool_workers(pid: int) -> list[int]:
    """The workers of run `pid`: children of its fork server."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            tree.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except OSError:
            continue
    return [w for child in tree.get(pid, []) for w in tree.get(child, [])]


def _interrupt(args: list, out: Path, strike) -> subprocess.CompletedProcess:
    """Start the run in its own session, `strike(proc)` once a shard is listed, wait for the end.
    Skips when the run keeps finishing first."""
    for _ in range(3):
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, "-m", "samplegen", *map(str, [*args, "--workers", 2, "--out", out])]
        proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                if (read_manifest(out) or {}).get("shards"):
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.005)
        struck = proc.poll() is None
        if struck:
            strike(proc)
        stdout, stderr = proc.communicate(timeout=120)
        if struck and not json.loads((out / "manifest.json").read_text())["complete"]:
            deadline = time.monotonic() + 10
            while _session_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _session_alive(proc.pid) == [], "processes of the run outlived it"
            return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
    pytest.skip("the run finished before it could be interrupted")


@pytest.mark.skipif(not LINUX, reason="reads the process tree from /proc")
@pytest.mark.parametrize("how", ["sigterm", "ctrl-c", "worker-killed"])
def test_an_interrupted_run_exits_with_one_line_and_resumes_to_identical_bytes(coco24, tmp_path, how):
    args, reference = coco24
    out = tmp_path / "out"
    strike = {
        "sigterm": lambda proc: proc.send_signal(signal.SIGTERM),         # the run only, as `timeout` does
        "ctrl-c": lambda proc: os.killpg(proc.pid, signal.SIGINT),        # the whole group, as a terminal does
        "worker-killed": lambda proc: os.kill(_pool_workers(proc.pid)[0], signal.SIGKILL),
    }[how]
    result = _interrupt(args, out, strike)
    expected = {"sigterm": (143, f"samplegen: terminated by SIGTERM; {HINT}"),
                "ctrl-c": (130, f"samplegen: interrupted; {HINT}"),
                "worker-killed": (1, "samplegen: a worker died while writing ")}[how]
    assert result.returncode == expected[0], result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(expected[1]), result.stderr
    assert result.stderr.rstrip().endswith(HINT)
    assert_clean(out)
    resumed = ok(run_cli([*args, "--workers", 2, "--out", out, "--resume"]))
    assert resumed["resumed_shards"] >= 1
    assert tree_bytes(out) == reference


def _fill_after(limit: int):
    """A `base.open` whose writable files fail with ENOSPC after `limit` bytes in all."""
    budget = [limit]
    real_open = open

    class Filling:
        def __init__(self, handle):
            self._handle = handle

        def write(self, data):
            budget[0] -= memoryview(data).nbytes
            if budget[0] < 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self._handle.write(data)

        def __getattr__(self, name):
            return getattr(self._handle, name)

    def filling_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return Filling(handle) if "w" in mode else handle

    return filling_open


@pytest.mark.parametrize("limit", [1000, 20000, 45000])
def test_a_full_disk_is_one_line_exit_1_and_resume_is_clean(tmp_path, capsys, monkeypatch, embedded_reference,
                                                            limit):
    out = tmp_path / "out"
    monkeypatch.setattr(base, "open", _fill_after(limit), raising=False)
    code, stdout, stderr = main([*EMBEDDED, "--out", out], capsys)
    monkeypatch.undo()
    assert code == 1 and stdout == ""
    assert stderr.startswith(f"samplegen: {out}") and stderr.endswith(": No space left on device\n")
    assert len(stderr.splitlines()) == 1
    if (out / "manifest.json").exists():
        assert_clean(out)
    else:
        assert list(out.iterdir()) == []
    resume = ["--resume"] if (out / "manifest.json").exists() else []  # (a budget of 1000: nothing written)
    code, _, stderr = main([*EMBEDDED, "--out", out, *resume], capsys)
    assert code == 0, stderr
    assert tree_bytes(out) == embedded_reference


def test_a_full_disk_in_the_workers_is_reported_by_the_run(tmp_path, embedded_reference):
    """ENOSPC in pool workers (injected at start-up in every process of the run)."""
    out = tmp_path / "out"
    env = {"PYTHONPATH": f"{REPO / 'tests' / 'faultinject'}{os.pathsep}{REPO}",
           "SAMPLEGEN_FAULT_ENOSPC_AFTER": "25000"}
    args = ["mtcnn", "--size", 12, "--workers", 2, "--shard-size", 1, "--no-progress", "--out", out]
    res = run_cli(args, env=env)
    assert res.code == 1 and res.stdout == "" and "Traceback" not in res.stderr
    assert res.stderr.strip().endswith(": No space left on device") and len(res.stderr.splitlines()) == 1
    assert_clean(out)
    ok(run_cli([*args, "--resume"]))
    assert tree_bytes(out) == embedded_reference


TMPFS_SCRIPT = r'''
set -u
M="$1"; H="$2"; shift 2
mount -t tmpfs -o size=40k tmpfs "$M" || exit 97
"$@" --out "$M/full" >/dev/null 2>"$H/full.err"; echo "full $?"
ls -a "$M/full" > "$H/full.ls"
mount -o remount,size=4m "$M" && "$@" --out "$M/full" --resume >/dev/null 2>"$H/resume.err"; echo "resume $?"
cp -r "$M/full" "$H/resumed"
mkdir "$M/ro" && mount -t tmpfs -o size=1m tmpfs "$M/ro" && mkdir "$M/ro/out" && mount -o remount,ro "$M/ro"
"$@" --out "$M/ro/out" >/dev/null 2>"$H/ro.err"; echo "ro $?"
mkdir "$M/imm" && chattr +i "$M/imm" 2>/dev/null &&
  { "$@" --out "$M/imm" >/dev/null 2>"$H/imm.err"; echo "imm $?"; }
'''


@pytest.mark.skipif(not LINUX or os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="mounting a private tmpfs needs root and unshare(1)")
def test_real_full_read_only_and_immutable_file_systems(tmp_path, embedded_reference):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    command = [sys.executable, "-m", "samplegen", "mtcnn", "--size", "12", "--workers", "1", "--shard-size", "1",
               "--no-progress"]  # (workers filling a disk: test_a_full_disk_in_the_workers_is_reported_by_the_run)
    proc = subprocess.run(["unshare", "-m", "bash", "-c", TMPFS_SCRIPT, "tmpfs", mnt, tmp_path, *command],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    if proc.returncode == 97:
        pytest.skip("tmpfs cannot be mounted here")
    codes = dict(line.split() for line in proc.stdout.splitlines())
    err = {p.stem: p.read_text() for p in tmp_path.glob("*.err")}
    assert codes["full"] == "1" and len(err["full"].splitlines()) == 1
    assert err["full"].startswith(f"samplegen: {mnt}/full") and err["full"].endswith(": No space left on device\n")
    listed = (tmp_path / "full.ls").read_text().split()
    assert not [n for n in listed if n.startswith(".") and n not in (".", "..")], "temporary files left"
    assert codes["resume"] == "0", err["resume"]
    assert tree_bytes(tmp_path / "resumed") == embedded_reference
    assert codes["ro"] == "1" and err["ro"] == f"samplegen: {mnt}/ro/out: Read-only file system\n"
    if "imm" in codes:
        assert codes["imm"] == "1" and err["imm"] == f"samplegen: {mnt}/imm: Operation not permitted\n"


def test_an_output_path_below_a_file_is_one_line_exit_1(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "sub"
    assert main([*EMBEDDED, "--out", out], capsys) == (1, "", f"samplegen: {out}: Not a directory\n")
    code, _, stderr = main([*EMBEDDED, "--out", tmp_path / "file"], capsys)  # click's own check
    assert code == 2 and "is a file" in stderr


def test_a_second_run_in_the_same_folder_exits_2_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    code = ("import sys; from pathlib import Path; from samplegen.engine.lock import OutputLock\n"
            "with OutputLock(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        exit_code, stdout, stderr = main([*EMBEDDED, "--out", out], capsys)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert (exit_code, stdout) == (2, "")
    assert stderr.startswith(f"samplegen: {out} is in use by another samplegen run (pid {holder.pid} on ")
    assert list(out.iterdir()) == []


def test_running_the_same_command_twice_is_already_complete(tmp_path, capsys, embedded_reference):
    out = tmp_path / "out"
    first = ok(run_inproc([*EMBEDDED, "--out", out]))
    code, stdout, stderr = main([*EMBEDDED, "--out", out], capsys)
    assert code == 0 and json.loads(stdout)["samples"] == first["samples"]
    assert stderr == f"samplegen: {out} already complete: {first['samples']} samples; --overwrite to redo\n"
    assert tree_bytes(out) == embedded_reference
    code, stdout, stderr = main([*EMBEDDED, "--out", out, "--seed", 3], capsys)
    assert (code, stdout) == (2, "")
    assert "another configuration (config.seed, seed)" in stderr and "--overwrite" in stderr


def test_overwrite_never_deletes_what_a_hostile_manifest_names(tmp_path, capsys):
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("years of work")
    ok(run_inproc([*EMBEDDED, "--out", out]))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0]["files"][0]["name"] = "../victim"
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, stdout, stderr = main([*EMBEDDED, "--out", out, "--overwrite"], capsys)
    assert (code, stdout) == (2, "") and "'../victim', which is not a samplegen output file" in stderr
    assert (victim / "thesis.tex").read_text() == "years of work"
    (out / "manifest.json").write_text(json.dumps({"purpose": "someone else's manifest"}))
    code, _, stderr = main([*EMBEDDED, "--out", out, "--overwrite"], capsys)
    assert code == 2 and "not written by samplegen" in stderr
    assert json.loads((out / "manifest.json").read_text()) == {"purpose": "someone else's manifest"}


def test_a_temporary_folder_too_deep_for_the_workers_socket_is_one_line(tmp_path):
    # The fork server's socket lives in the temporary folder; AF_UNIX paths hold ~100 bytes.
    deep = tmp_path / ("t" * 120)
    deep.mkdir()
    res = run_cli(["mtcnn", "--out", tmp_path / "out", "--workers", 2, "--no-progress"], env={"TMPDIR": str(deep)})
    assert res.code == 1 and res.stdout == ""
    assert res.stderr == (f"samplegen: {deep}: the temporary folder is too long a path for the worker processes' "
                          "socket: set TMPDIR to a shorter folder\n")
