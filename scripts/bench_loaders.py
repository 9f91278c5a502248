"""DataLoader benchmark: samplegen.torch over the packed layout against the README's old snippet.

    python scripts/bench.py --loaders [--images 300] [--batch-size 384] [--baseline-samples 4000]

One packed ``samplegen mtcnn --shard-size 100`` output per crop size (the benchmark set of
`bench_data`, built once and cached; 100-image shards are what every input of 1,600 images or
more gets by default), then, in this process, samples per second delivered by a
``torch.utils.data.DataLoader(batch_size=B, shuffle=True)``, two figures per loader: over the
epoch from the iterator's creation (worker start-up included) and steady (from the first batch
on, what a long epoch or ``persistent_workers`` sees):

1. baseline: the Dataset the README showed before issue 12 (`ReadmeSnippet`, kept verbatim:
   ``np.load(npz)`` handles opened in ``__init__``, every item re-reading the zip), at
   ``num_workers=0`` (with workers it crashes: ``BadZipFile``); timed over its first
   ``--baseline-samples`` samples, which takes seconds at its rate;
2. ``MtcnnPackedDataset`` at ``num_workers=2`` (and 0), one whole epoch, worker start-up included.

The target (issue 12) is the ratio of 2 over 1 at size 12, both measured here in one run:
>= 10x, on the steady figures (the epoch figures are printed beside). Size 48 is printed beside it with ``normalize="none"`` (uint8): each 48 x 48 crop is 16x
the bytes of a 12 x 12 one, so there the loader is bound by memory bandwidth (and by the float
conversion, which a trainer can do on the GPU), not by per-item overhead.
"""
from __future__ import annotations

import argparse
import glob
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_data import REPO, build_set, shared_data_dir  # noqa: E402

DEFAULT_CACHE = REPO / ".cache" / "bench"


def readme_snippet_dataset():
    """The README's PyTorch Dataset before issue 12, verbatim (the baseline)."""
    import torch

    class MtcnnPacked(torch.utils.data.Dataset):
        def __init__(self, out_dir):
            stems = sorted(p[:-len(".images.npy")] for p in glob.glob(f"{out_dir}/*.images.npy"))
            self.images = [np.load(s + ".images.npy", mmap_mode="r") for s in stems]
            self.labels = [np.load(s + ".labels.npz") for s in stems]
            self.index = [(i, r) for i, a in enumerate(self.images) for r in range(len(a))]
        def __len__(self): return len(self.index)  # noqa: E301,E704
        def __getitem__(self, k):  # noqa: E301
            i, r = self.index[k]; lab = self.labels[i]  # noqa: E702
            img = torch.from_numpy((self.images[i][r].astype(np.float32) - 127.5) / 128).permute(2, 0, 1)
            return img, int(lab["cls"][r]), lab["roi"][r], lab["landmark"][r]

    return MtcnnPacked


def packed_output(bench, size: int, workers: int, runs: Path) -> Path:
    """The packed size-`size` output of the benchmark set (written once, reused)."""
    out = runs / f"loaders-mtcnn{size}-packed-s100"
    if not (out / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "samplegen", "mtcnn", "--size", str(size),
                        "--annotations", str(bench.wider_txt), "--format", "wider", "--images", str(bench.wider_images),
                        "--landmarks", str(bench.facepoint_txt), "--landmark-images", str(bench.facepoint_images),
                        "--out", str(out), "--workers", str(workers), "--shard-size", "100", "--no-progress",
                        "--overwrite"],
                       check=True, capture_output=True)
    return out


def samples_per_second(dataset, batch_size: int, workers: int, limit: int | None = None) -> tuple[float, float, int]:
    """(epoch samples/s, steady samples/s, samples) of one shuffled epoch of a DataLoader, or of
    its first `limit` samples. Epoch: from before the loader's iterator is made (worker start-up
    counts) to the last batch; steady: the batches after the first, from its arrival."""
    import torch

    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         generator=torch.Generator().manual_seed(0))
    start, first_at, first, seen = time.perf_counter(), None, 0, 0
    for batch in loader:
        seen += len(batch[1])
        if first_at is None:
            first_at, first = time.perf_counter(), seen
        if limit is not None and seen >= limit:
            break
    end = time.perf_counter()
    return seen / (end - start), (seen - first) / (end - first_at), seen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=300, help="WIDER images in the benchmark set [300]")
    parser.add_argument("--workers", type=int, default=2, help="samplegen workers writing the outputs [2]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image choice and pixels [0]")
    parser.add_argument("--data", help="shared data folder [$SAMPLEGEN_SHARED_DATA or ../shared/data]")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="where sets and runs go [.cache/bench]")
    parser.add_argument("--batch-size", type=int, default=384, help="DataLoader batch size [384]")
    parser.add_argument("--baseline-samples", type=int, default=4000,
                        help="samples the baseline is timed over [4000]")
    args = parser.parse_args(argv)
    try:
        from samplegen.torch import MtcnnPackedDataset
    except ImportError as exc:
        raise SystemExit(f"bench --loaders: {exc}")
    cache = Path(args.cache)
    bench = build_set(shared_data_dir(args.data), args.images, args.seed, cache, log=lambda m: print(m, file=sys.stderr))
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    b = args.batch_size
    print(f"samplegen loader bench: packed outputs of {bench.face_images} WIDER + {bench.landmark_images} "
          f"facial-point images, DataLoader(batch_size={b}, shuffle=True)")
    print(f"{'loader':<58}{'samples':>9}{'epoch/s':>10}{'steady/s':>10}")
    steady = {}
    for size, normalize in ((12, "mtcnn"), (48, "none")):
        out = packed_output(bench, size, args.workers, runs)
        rows = [("baseline", f"README snippet (before issue 12), size {size}, num_workers=0",
                 readme_snippet_dataset()(out), 0, args.baseline_samples)]
        rows += [(f"ours{w}", f"MtcnnPackedDataset normalize={normalize!r}, size {size}, num_workers={w}",
                  MtcnnPackedDataset(out, normalize=normalize), w, None) for w in (0, 2)]
        for tag, name, dataset, workers, limit in rows:
            epoch, rate, seen = samples_per_second(dataset, b, workers, limit)
            steady[(size, tag)] = rate
            print(f"{name:<58}{seen:>9}{epoch:>10.0f}{rate:>10.0f}")
    ratio12 = steady[(12, "ours2")] / steady[(12, "baseline")]
    ratio48 = steady[(48, "ours2")] / steady[(48, "baseline")]
    print(f"SUMMARY loaders: size 12 MtcnnPackedDataset num_workers=2 / README snippet num_workers=0 = {ratio12:.1f}x "
          f"steady samples/s (target >= 10x: {'met' if ratio12 >= 10 else 'NOT met'}); size 48 (normalize='none', "
          f"bandwidth bound): {ratio48:.1f}x")


if __name__ == "__main__":
    main()
