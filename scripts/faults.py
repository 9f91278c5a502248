#!/usr/bin/env python
"""Fault injection against the real CLI: kills at random instants, corrupted shards, full disks.

    python scripts/faults.py [--instants 5] [--seed 0] [--data DIR] [--workers 2] [--keep DIR]

For each command and layout (``mtcnn`` packed / wds / list / tfrecord on the dlib photos,
``detect`` with the embedded nets on them, ``anchors fpn --with-images`` on 24 COCO128 images; the
embedded sample when the real data is absent), after
one uninterrupted reference run:

* kill: N runs stopped at a random instant of the reference's duration, in turn by SIGKILL to
  the process group, SIGKILL to the parent alone, SIGTERM to the parent and SIGINT to the group.
  Held when every process of the run is gone within 10 s, a signalled run exits 143 / 130 with
  the resume hint, no temporary file is left, and ``--resume`` gives the reference's bytes;
* corrupt: a finished copy damaged by one of: a flipped byte, zeros over a shard, a truncated
  shard, two shards swapped, a deleted shard, a stale shard-named file. Held when
  ``samplegen verify`` exits 1 naming it, and ``--resume`` restores the reference's bytes and
  verifies;
* disk full: N runs whose writes fail with ENOSPC after a random byte budget (injected at
  start-up in every process through tests/faultinject/sitecustomize.py). Held when the run exits 1
  with one ``...: No space left on device`` line and no temporary file, and ``--resume`` without
  the fault gives the reference's bytes.

Prints one line per case and then ``N tried, N held``; exit 1 when a case did not hold.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("SAMPLEGEN_SHARED_DATA", REPO.parent / "shared" / "data"))
FAULT_SITE = REPO / "tests" / "faultinject"
HINT = "completed shards are kept, rerun with --resume"
STRIKES = ("kill -9 group", "kill -9 parent", "SIGTERM parent", "SIGINT group")
LAYOUTS = ("packed", "wds", "list", "tfrecord")   # tfrecord: its merged files are written at the end
MID_RUN = {"kills": 0, "mid-run": 0}  # how many strikes found the run with shards recorded, not done


def layouts(data: Path, scratch: Path) -> dict[str, list[str]]:
    """Command lines (without --out, --workers) per case name."""
    if not (data / "dlib_faces").is_dir():
        cases = {f"mtcnn {layout} (embedded)": ["mtcnn", "--size", "12", "--layout", layout, "--shard-size", "1"]
                 for layout in LAYOUTS}
        cases["detect (embedded)"] = ["detect", "--shard-size", "1"]
        return cases
    dlib = data / "dlib_faces"
    faces = ["--annotations", str(dlib / "derived" / "wider_face_train_bbx_gt.txt"), "--format", "wider",
             "--images", str(dlib), "--landmarks", str(dlib / "derived" / "trainImageList.txt"),
             "--landmark-images", str(dlib), "--set", "landmark.min_face=20", "--shard-size", "1"]
    cases = {f"mtcnn {layout}": ["mtcnn", "--size", "12", *faces, "--layout", layout]
             for layout in LAYOUTS}
    # detect: the embedded P-Net + R-Net over the dlib photos, one JSON-lines shard per image
    from samplegen import embedded

    cases["detect"] = ["detect", "--pnet", str(embedded.PNET), "--rnet", str(embedded.RNET), "--annotations",
                       str(dlib / "derived" / "wider_face_train_bbx_gt.txt"), "--format", "wider",
                       "--images", str(dlib), "--shard-size", "1"]
    coco = json.loads((data / "coco128" / "annotations" / "instances_train2017.json").read_text())
    images = sorted(coco["images"], key=lambda im: im["id"])[:24]
    ids = {im["id"] for im in images}
    subset = scratch / "coco24.json"
    subset.write_text(json.dumps({"images": images, "categories": coco["categories"],
                                  "annotations": [a for a in coco["annotations"] if a["image_id"] in ids]}))
    cases["anchors fpn"] = ["anchors", "--method", "fpn", "--annotations", str(subset), "--images",
                            str(data / "coco128" / "images" / "train2017"), "--with-images", "--shard-size", "1"]
    return cases


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


SESSIONS: list[int] = []  # every run's session: none may keep a process after its case


def cli(args: list[str], out: Path, workers: int, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "samplegen", *args, "--workers", str(workers), "--no-progress",
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO, start_new_session=True)
    SESSIONS.append(proc.pid)
    stdout, stderr = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def orphans() -> list[int]:
    """Sessions of this script's runs that still have a process, after up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        alive = [sid for sid in SESSIONS if session_alive(sid)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for sid in alive:
        os.killpg(sid, signal.SIGKILL)
    SESSIONS.clear()
    return alive


def session_alive(sid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            return True
    return False


def leftovers(out: Path) -> list[str]:
    """Temporary or lock files, and shard-named entries the manifest does not list. While a run
    is unfinished, its manifest is the checkpoint plus the shard records in ``_shards/``
    (`read_manifest` merges them), so those records and the shards they list are not leftovers."""
    from samplegen.engine.manifest import read_manifest

    if not out.is_dir():
        return []
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".")]
    try:
        manifest = read_manifest(out)
    except Exception:  # noqa: BLE001 - an unreadable manifest: only the hidden files are judged
        return hidden
    if manifest is None:
        return hidden
    listed = {f["name"] for s in manifest["shards"] for f in s["files"]}
    listed |= {f["name"] for f in manifest.get("totals", {}).get("extra_files", [])}
    if not manifest.get("complete"):
        listed.add("_shards")
    return hidden + [p.name for p in out.iterdir() if not p.name.startswith(".") and p.name != "manifest.json"
                     and p.name not in listed]


def finish(args: list[str], out: Path, workers: int, reference: dict[str, bytes]) -> str | None:
    """Resume (or start, if nothing was recorded) and compare with the reference; None if equal."""
    again = cli([*args, "--resume"] if (out / "manifest.json").exists() else args, out, workers)
    if again.returncode != 0:
        return f"resume exit {again.returncode}: {again.stderr.strip()[-300:]}"
    got = tree(out)
    if got != reference:
        differ = sorted(n for n in set(got) | set(reference) if got.get(n) != reference.get(n))
        return f"after resume, files differ from the reference: {differ[:5]}"
    return None


def kill_case(args: list[str], out: Path, workers: int, reference: dict[str, bytes], duration: float,
              strike: str, rng: random.Random) -> str | None:
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, "-m", "samplegen", *args, "--workers", str(workers), "--no-progress",
                             "--out", str(out)], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    SESSIONS.append(proc.pid)
    time.sleep(rng.uniform(0.0, duration))
    running = proc.poll() is None
    if running:
        target, sig = {"kill -9 group": (-proc.pid, signal.SIGKILL),
                       "kill -9 parent": (proc.pid, signal.SIGKILL),
                       "SIGTERM parent": (proc.pid, signal.SIGTERM),
                       "SIGINT group": (-proc.pid, signal.SIGINT)}[strike]
        try:
            os.killpg(-target, sig) if target < 0 else os.kill(target, sig)
        except ProcessLookupError:
            running = False
    _, stderr = proc.communicate(timeout=600)
    MID_RUN["kills"] += 1
    if running and (out / "manifest.json").exists() and not complete(out):
        MID_RUN["mid-run"] += 1
    deadline = time.monotonic() + 10
    while session_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if session_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
        return "processes of the run outlived it"
    expected = {"SIGTERM parent": 143, "SIGINT group": 130}.get(strike)
    if running and expected is not None and proc.returncode == -expected_signal(strike):
        # Python's own handling: the signal landed while the interpreter was still importing the
        # entry point, or finishing after the run ended. Held if nothing or everything was written.
        if out.exists() and not complete(out):
            return f"killed by the signal mid-run (exit {proc.returncode}): {stderr.strip()[-300:]}"
        return finish(args, out, workers, reference)
    if running and expected is not None and proc.returncode not in (0, expected):
        return f"exit {proc.returncode}, expected {expected}: {stderr.strip()[-300:]}"
    if running and proc.returncode == expected and (out / "manifest.json").exists() and HINT not in stderr:
        return f"no resume hint: {stderr.strip()[-300:]}"  # (interrupted while planning: no hint)
    if not strike.startswith("kill -9") and leftovers(out):
        return f"left behind: {leftovers(out)}"
    return finish(args, out, workers, reference)


def complete(out: Path) -> bool:
    try:
        return bool(json.loads((out / "manifest.json").read_text())["complete"])
    except (OSError, ValueError, KeyError):
        return False


def expected_signal(strike: str) -> int:
    return {"SIGTERM parent": signal.SIGTERM, "SIGINT group": signal.SIGINT}.get(strike, signal.SIGKILL)


def corrupt(out: Path, how: str, rng: random.Random) -> str:
    """Damage a finished output folder; returns the name `samplegen verify` must report."""
    manifest = json.loads((out / "manifest.json").read_text())
    names = [f["name"] for s in manifest["shards"] for f in s["files"]]
    files = [n for n in names if (out / n).is_file()] or names
    victim = rng.choice(files)
    path = out / victim
    if how == "stale file":
        stale = f"{victim.split('-')[0]}-{900000 + rng.randrange(1000):06d}.tar"
        (out / stale).write_bytes(os.urandom(1024))
        return stale
    if path.is_dir():  # list layout: damage one image inside the shard folder
        path = rng.choice([p for p in path.rglob("*") if p.is_file()])
    data = bytearray(path.read_bytes())
    if how == "flipped byte":
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
    elif how == "zeros":
        path.write_bytes(bytes(len(data)))
    elif how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "deleted":
        shutil.rmtree(out / victim) if (out / victim).is_dir() else path.unlink()
    elif how == "swapped":
        other = rng.choice([n for n in files if n != victim] or [victim])
        tmp = out / "swap.tmp"
        os.rename(out / victim, tmp), os.rename(out / other, out / victim), os.rename(tmp, out / other)
    return victim


def corrupt_case(args: list[str], out: Path, workers: int, reference_dir: Path, reference: dict[str, bytes],
                 how: str, rng: random.Random) -> str | None:
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(reference_dir, out, copy_function=shutil.copy2)
    named = corrupt(out, how, rng)
    check = subprocess.run([sys.executable, "-m", "samplegen", "verify", str(out)], capture_output=True, text=True,
                           cwd=REPO)
    if tree(out) == reference:
        return None  # e.g. two identical shards swapped: nothing to find
    if check.returncode != 1 or named not in check.stdout:
        return f"verify exit {check.returncode}, did not name {named}"
    problem = finish(args, out, workers, reference)
    if problem is None and subprocess.run([sys.executable, "-m", "samplegen", "verify", str(out)],
                                          capture_output=True, cwd=REPO).returncode != 0:
        return "verify fails after resume"
    return problem


def disk_full_case(args: list[str], out: Path, workers: int, reference: dict[str, bytes], total: int,
                   rng: random.Random) -> str | None:
    shutil.rmtree(out, ignore_errors=True)
    budget = rng.randrange(1, max(2, total // max(1, workers)))
    env = {"PYTHONPATH": os.pathsep.join([str(FAULT_SITE), str(REPO)]),
           "SAMPLEGEN_FAULT_ENOSPC_AFTER": str(budget)}
    res = cli(args, out, workers, env)
    if res.returncode == 0:
        return finish(args, out, workers, reference)  # the budget sufficed: still must be the same bytes
    lines = res.stderr.strip().splitlines()
    if res.returncode != 1 or len(lines) != 1 or not lines[0].endswith(": No space left on device"):
        return f"budget {budget}: exit {res.returncode}: {res.stderr.strip()[-300:]}"
    if leftovers(out):
        return f"budget {budget}: left behind {leftovers(out)}"
    return finish(args, out, workers, reference)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instants", type=int, default=5, help="kills and disk-full budgets per layout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="scratch folder to keep (default: a removed temporary one)")
    opts = parser.parse_args()
    rng = random.Random(opts.seed)
    scratch = opts.keep or Path(tempfile.mkdtemp(prefix="samplegen-faults-"))
    scratch.mkdir(parents=True, exist_ok=True)
    tried = held = 0
    failures = []
    try:
        for name, args in layouts(opts.data, scratch).items():
            ref_dir = scratch / f"{name.replace(' ', '_')}-ref"
            shutil.rmtree(ref_dir, ignore_errors=True)
            start = time.perf_counter()
            res = cli(args, ref_dir, opts.workers)
            duration = time.perf_counter() - start
            if res.returncode != 0:
                print(f"{name}: reference run failed: {res.stderr.strip()}", file=sys.stderr)
                return 1
            reference = tree(ref_dir)
            total = sum(len(v) for v in reference.values())
            out = scratch / f"{name.replace(' ', '_')}-case"
            strikes = [STRIKES[i % len(STRIKES)] for i in range(opts.instants)]
            cases = [(strike, lambda strike=strike: kill_case(args, out, opts.workers, reference, duration,
                                                              strike, rng)) for strike in strikes]
            cases += [(f"corrupt: {how}", lambda how=how: corrupt_case(args, out, opts.workers, ref_dir, reference,
                                                                       how, rng))
                      for how in ("flipped byte", "zeros", "truncated", "swapped", "deleted", "stale file")]
            cases += [("disk full", lambda: disk_full_case(args, out, opts.workers, reference, total, rng))
                      for _ in range(opts.instants)]
            counts = [0, 0]
            for label, case in cases:
                problem = case()
                left = orphans()
                if left and problem is None:
                    problem = f"processes of runs in sessions {left} outlived them"
                tried, counts[0] = tried + 1, counts[0] + 1
                if problem is None:
                    held, counts[1] = held + 1, counts[1] + 1
                else:
                    failures.append(f"{name} / {label}: {problem}")
            print(f"{name}: {counts[0]} tried, {counts[1]} held (reference {duration:.1f} s)", flush=True)
    finally:
        if opts.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    for failure in failures:
        print(f"did not hold: {failure}")
    print(f"{MID_RUN['mid-run']} of {MID_RUN['kills']} kills struck a run part-way through its shards "
          "(the others: while starting, planning or finishing)")
    print(f"{tried} tried, {held} held")
    return 0 if tried == held else 1


if __name__ == "__main__":
    sys.exit(main())
