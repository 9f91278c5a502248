"""`MinedStore`: the boxes a mining run has detected so far, kept in its output folder so that a
killed run resumes without detecting those images again.

Mining (``samplegen mtcnn --size 24|48 --pnet ...``) spends hours in pass 1, where the planning
workers detect faces in every image. The parent saves each finished chunk's boxes as
``_mined/<digest>.npz`` inside ``--out`` (written whole, then renamed into place); a later run
of the same mining (``--resume``, ``--overwrite``, or a plain rerun after a kill) plans those
chunks from the saved boxes instead of detecting again. Detection is deterministic, so the
output bytes are the same either way.

The digest names everything the boxes depend on: the nets' bytes, the detect configuration,
the images root, the samplegen / numpy / OpenCV versions, and per image its key, path,
annotated size and the file's size and modification time (an edited image is detected again;
an image object in object storage counts by key and annotated size alone).
A file that does not load, or whose digest or shapes disagree, is detected again, never used.
The finished run removes ``_mined/``: a complete output folder holds no trace of it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from samplegen import __version__
from samplegen.datasets.paths import image_file
from samplegen.engine.folder import notify, refused_whatever_the_flags
from samplegen.engine.storage import OutputFolder, is_remote, open_output
from samplegen.pipelines.detect import MiningSpec
from samplegen.record import Record
from samplegen.writers.base import is_temporary_name, sha256_file

MINED_DIR = "_mined"
FORMAT = 1


def mining_identity(mining: MiningSpec) -> str:
    """SHA-256 of what every mined box depends on apart from the image itself."""
    import cv2

    nets = {stage: sha256_file(Path(path)) for stage, path in (("pnet", mining.nets.pnet), ("rnet", mining.nets.rnet))
            if path is not None}
    described = {"format": FORMAT, "samplegen": __version__, "numpy": np.__version__, "opencv": cv2.__version__,
                 "nets": nets, "detect": dataclasses.asdict(mining.cfg), "images_root": mining.images_root,
                 "follow_symlinks": mining.follow_symlinks}
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def _stat(path: Path | str) -> list[int] | None:
    if is_remote(path):
        # An image object is named by its key and annotated size only: a HEAD per image would
        # cost the parent minutes before the first detection of a large run.
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None   # missing or unreadable: the worker gives its skip reason
    return [st.st_size, st.st_mtime_ns]


class MinedStore:
    """The saved mining results of one output folder (see the module docstring)."""

    def __init__(self, out_dir: str | os.PathLike | OutputFolder, mining: MiningSpec) -> None:
        self.folder = open_output(out_dir)
        self.mining = mining
        self.identity = mining_identity(mining)
        # A folder the run will refuse (another tool's manifest, stray shard names) is left as
        # found: nothing saved there, nothing read.
        self.enabled = not refused_whatever_the_flags(self.folder)
        self.saved = {name for name in self.folder.names(MINED_DIR) if not is_temporary_name(name)} \
            if self.enabled and self.folder.is_dir(MINED_DIR) else set()
        self.reused = 0
        self.damaged: list[str] = []

    def digest(self, records: Sequence[Record]) -> str:
        """The name-giving digest of a chunk of face `records`."""
        h = hashlib.sha256(self.identity.encode())
        for record in records:
            path = image_file(self.mining.images_root, record)
            h.update(json.dumps([record.key, record.image, record.width, record.height, _stat(path)]).encode())
        return h.hexdigest()

    @staticmethod
    def _name(digest: str) -> str:
        return f"{digest[:40]}.npz"

    def load(self, digest: str, count: int) -> list | None:
        """Per image of the chunk of `count` images whose `digest` is given, its skip reason or
        boxes float32 [N, 5]; None when nothing usable is saved for exactly these images."""
        name = self._name(digest)
        if name not in self.saved:
            return None
        try:
            with np.load(io.BytesIO(self.folder.read_bytes(f"{MINED_DIR}/{name}")), allow_pickle=False) as z:
                found = _unpack(z, digest, count)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            found = None   # a truncated or damaged file (zip CRC): detect again
        if found is None:
            self.damaged.append(name)
            return None
        self.reused += count
        return found

    def save(self, digest: str, results: Sequence) -> None:
        """Keep the results of the mined chunk `digest` (`count_chunk`'s, one per image)."""
        if not self.enabled:
            return
        reasons = [r if isinstance(r, str) else None for r in results]
        boxes = [np.asarray(r[1], np.float32).reshape(-1, 5) for r in results if not isinstance(r, str)]
        counts = np.array([-1 if isinstance(r, str) else len(r[1]) for r in results], np.int64)
        buffer = io.BytesIO()
        np.savez(buffer, digest=np.array(digest), reasons=np.array(json.dumps(reasons)), counts=counts,
                 boxes=np.concatenate(boxes) if boxes else np.zeros((0, 5), np.float32))
        for attempt in (1, 2):
            self.folder.make()
            self.folder.make_dir(MINED_DIR)
            try:
                # Not fsynced: a file lost in a power cut only means those images are detected again.
                self.folder.write_atomic(f"{MINED_DIR}/{self._name(digest)}", buffer.getvalue(), durable=False)
                return
            except FileNotFoundError:
                if attempt == 2:   # a run finishing in the same --out removed _mined/ just then
                    raise

    def clear(self) -> None:
        """Remove ``_mined/`` (the run is complete)."""
        if self.enabled and self.folder.exists(MINED_DIR):
            self.folder.remove(MINED_DIR)

    def report(self) -> None:
        """One stderr line on what was reused, and on files passed over."""
        if self.reused:
            notify(f"reused the boxes of {self.reused} images mined by an earlier run ({self.folder.show(MINED_DIR)})")
        if self.damaged:
            notify(f"{len(self.damaged)} saved mining files of {self.folder.show(MINED_DIR)} did not load and were "
                   f"detected again (first: {self.damaged[0]})")


def _unpack(z, digest: str, count: int) -> list | None:
    if str(z["digest"]) != digest:
        return None
    reasons = json.loads(str(z["reasons"]))
    counts, boxes = z["counts"], z["boxes"]
    if (len(reasons) != count or counts.shape != (count,) or boxes.dtype != np.float32 or boxes.ndim != 2
            or boxes.shape[1] != 5 or int(counts[counts >= 0].sum()) != len(boxes)
            or any((reason is None) != (n >= 0) for reason, n in zip(reasons, counts.tolist()))):
        return None
    per_image = iter(np.split(boxes, np.cumsum(counts[counts >= 0])[:-1]))
    return [str(reason) if reason is not None else next(per_image).copy() for reason in reasons]
