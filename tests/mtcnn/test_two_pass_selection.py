"""Two-pass MTCNN selection: the parent keeps counts and ordinals; a cut worker re-plans each image
and keeps exactly the rows a one-pass selection (plan everything, balance, select) would keep."""
from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import numpy as np
import pytest

from samplegen.engine.distribute import WorkerPool
from samplegen.mtcnn.balance import balance
from samplegen.mtcnn.crop_plan import CropPlan, class_counts, select
from samplegen.mtcnn.labels import CLASS_CODES, CLASS_ORDER
from samplegen.pipelines.mtcnn_items import FACES, LANDMARKS, item_key, plan_image
from samplegen.pipelines.mtcnn_selection import plan_run


def one_pass(faces, marks, cfg, seed, detections=None) -> list[CropPlan]:
    """The selection as it was computed before (and as the issue defines it): every plan held."""
    entries = sorted([(item_key(FACES, r), FACES, r) for r in faces] +
                     [(item_key(LANDMARKS, r), LANDMARKS, r) for r in marks])
    plans = [plan_image(role, r, cfg, seed, None if detections is None or role == LANDMARKS
                        else detections.get(r.key, np.zeros((0, 5), np.float32))) for _, role, r in entries]
    counts = np.array([class_counts(p) for p in plans]).reshape(-1, 4)
    ratio = tuple(cfg.ratio) if marks else tuple(cfg.ratio[:3]) + (0,)
    chosen = balance(counts, ratio, seed, cfg.allow_duplicates, CLASS_ORDER.index(CLASS_CODES[cfg.ratio_base]))
    return [select(p, chosen.rows(i, p.cls)) for i, p in enumerate(plans)]


def same_plan(a: CropPlan, b: CropPlan) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)


@pytest.mark.parametrize("duplicates", [False, True])
def test_kept_plans_equal_the_one_pass_selection(wider_subset, facepoint_subset, make_config, duplicates):
    cfg = make_config(12, allow_duplicates=duplicates)
    faces, marks = wider_subset[:120], facepoint_subset[:80]
    with WorkerPool(1) as pool:
        planned = plan_run(faces, marks, cfg, 3, pool)
    expected = one_pass(faces, marks, cfg, 3)
    assert len(planned.items) == len(expected) == 200
    assert all(same_plan(item.plan, want) for item, want in zip(planned.items, expected))
    assert sum(len(item.plan) for item in planned.items) == sum(planned.balance.targets)
    # Planned here (a small run), the items carry their kept rows; planned again from ordinals
    # alone (what a cut worker does for the rest), they are the same rows.
    assert all(item.given_plan is not None for item in planned.items)
    replanned = [dataclasses.replace(item, given_plan=None, given_copies=None) for item in planned.items]
    assert all(same_plan(item.plan, want) for item, want in zip(replanned, expected))


def test_hard_examples_from_detections(wider_subset, make_config):
    cfg = make_config(24)
    rng = np.random.default_rng(0)
    dets = {}
    for r in wider_subset[:60]:
        jitter = r.boxes[:, None, :] + rng.normal(0, 6, (r.num_boxes, 3, 4)).astype(np.float32)
        boxes = jitter.reshape(-1, 4)
        dets[r.key] = np.column_stack([boxes, rng.uniform(0.5, 1, len(boxes))]).astype(np.float32)
    with WorkerPool(1) as pool:
        planned = plan_run(wider_subset[:60], [], cfg, 1, pool, dets)
    expected = one_pass(wider_subset[:60], [], cfg, 1, dets)
    assert all(same_plan(item.plan, want) for item, want in zip(planned.items, expected))
    assert sum(len(i.plan) for i in planned.items) > 0


def test_an_item_re_plans_identically_in_another_process(wider_subset, make_config, tmp_path):
    cfg = make_config(12)
    with WorkerPool(1) as pool:
        item = next(i for i in plan_run(wider_subset[:30], [], cfg, 5, pool).items if len(i.plan))
    item = dataclasses.replace(item, given_plan=None, given_copies=None)   # re-planned from its ordinals
    (tmp_path / "item.pkl").write_bytes(pickle.dumps(item))
    code = ("import pickle, sys, numpy as np; item = pickle.load(open(sys.argv[1], 'rb')); "
            "np.save(sys.argv[2], item.plan.crop)")
    subprocess.run([sys.executable, "-c", code, tmp_path / "item.pkl", tmp_path / "crop.npy"], check=True)
    assert np.array_equal(np.load(tmp_path / "crop.npy"), item.plan.crop)


def test_the_parent_holds_counts_not_plans(wider_subset, make_config):
    cfg = make_config(12)
    with WorkerPool(1) as pool:
        planned = plan_run(wider_subset[:100], [], cfg, 0, pool)
    # An item carries its record, config and kept ordinals; pickled, it is small next to its plan.
    item = max(planned.items, key=lambda i: len(i.plan))
    full = plan_image(FACES, item.record, cfg, 0, None)
    plan_bytes = sum(getattr(full, f).nbytes for f in full.__dataclass_fields__)
    ordinal_bytes = sum(o.nbytes for o in item.ordinals)
    assert ordinal_bytes * 5 < plan_bytes


def test_items_are_columns_and_a_pickled_slice_is_its_own_items(wider_subset, facepoint_subset, make_config):
    from samplegen.engine.task import plan_shards
    from samplegen.pipelines.mtcnn_items import MtcnnItems

    cfg = make_config(12)
    with WorkerPool(1) as pool:
        planned = plan_run(wider_subset[:50], facepoint_subset[:30], cfg, 2, pool)
    items = planned.items
    assert isinstance(items, MtcnnItems) and len(items) == 80
    built = list(items)
    keys = [item.key for item in built]
    assert keys == sorted(keys) and [items.key(i) for i in range(len(items))] == keys
    tasks = plan_shards(items, 7, key=lambda item: item.key)
    assert all(isinstance(task.items, MtcnnItems) for task in tasks)   # views, nothing built
    assert [item.key for task in tasks for item in task.items] == keys
    shipped = pickle.loads(pickle.dumps(tasks[3].items))
    assert isinstance(shipped, tuple) and [item.key for item in shipped] == keys[21:28]
    for got, want in zip(shipped, built[21:28]):
        assert np.array_equal(got.kept, want.kept) and got.class_ends == want.class_ends
        assert same_plan(dataclasses.replace(got, given_plan=None, given_copies=None).plan, want.plan)


def test_a_large_run_balanced_in_a_worker_selects_what_a_serial_one_does(wider_all, make_config):
    """Past `PARALLEL_PLAN_MIN_IMAGES` images pass 1 and the balance run in the pool's workers."""
    from samplegen.pipelines.mtcnn_selection import PARALLEL_PLAN_MIN_IMAGES
    from tests.mtcnn.conftest import WIDER_SIZE, with_size

    cfg = make_config(12)
    faces = [with_size(r, *WIDER_SIZE) for r in wider_all[:PARALLEL_PLAN_MIN_IMAGES]]
    with WorkerPool(2) as pool:
        parallel = plan_run(faces, [], cfg, 9, pool)
    with WorkerPool(1) as pool:
        serial = plan_run(faces, [], cfg, 9, pool)
    assert parallel.counts() == serial.counts() and sum(parallel.balance.targets) > 0
    assert parallel.items.values.dtype == np.uint16   # narrowed in the worker, where it fits
    assert np.array_equal(parallel.items.values, serial.items.values)
    assert np.array_equal(parallel.items.ends, serial.items.ends)
    assert [parallel.items.key(i) for i in range(len(faces))] == [serial.items.key(i) for i in range(len(faces))]
