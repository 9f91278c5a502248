"""MtcnnJob writes a shard image by image: a failure mid-shard must leave no file behind."""
import numpy as np
import pytest

from samplegen import embedded
from samplegen.engine.task import ShardTask
from samplegen.pipelines.mtcnn_shards import MtcnnJob
from samplegen.pipelines.mtcnn_items import FACES, MtcnnItem
from samplegen.mtcnn.labels import NEG
from samplegen.mtcnn.crop_plan import make_plan
from samplegen.record import Record


SIZES = {"astronaut.jpg": (512, 512), "grace_hopper.jpg": (512, 600)}   # the embedded photos, width x height


def _item(name: str, crops: list[list[float]], size: tuple[int, int] | None = None) -> MtcnnItem:
    width, height = size or SIZES[name]
    record = Record(key=name, image=name, width=width, height=height)
    plan = make_plan(NEG, np.array(crops, np.float32))
    return MtcnnItem(f"{FACES}/{name}", FACES, record, given_plan=plan)


@pytest.mark.parametrize("layout", ["packed", "wds", "list"])
def test_failed_shard_leaves_no_files(tmp_path, layout):
    good = _item("astronaut.jpg", [[0, 0, 100, 100], [10, 20, 60, 70]])
    # pad is off and this crop leaves the 512-pixel-wide image: cutting raises after the first
    # image's crops were already written to the shard's temporary files.
    bad = _item("grace_hopper.jpg", [[500, 500, 600, 600]])
    job = MtcnnJob(str(tmp_path), "pnet", layout, 12, False, "png", str(embedded.ROOT), None)
    with pytest.raises(ValueError, match="leaves"):
        job.run_shard(ShardTask(0, (good, bad)))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("layout", ["packed", "wds", "list"])
def test_shard_counts_every_written_crop(tmp_path, layout):
    items = (_item("astronaut.jpg", [[0, 0, 100, 100], [10, 20, 60, 70]]),
             _item("grace_hopper.jpg", [[5, 5, 50, 50]]))
    job = MtcnnJob(str(tmp_path), "pnet", layout, 12, False, "png", str(embedded.ROOT), None)
    result = job.run_shard(ShardTask(3, items))
    assert result.samples == 3 and result.counts == {"neg": 3}
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary left over


def test_an_image_unlike_its_annotation_is_skipped_not_cut(tmp_path):
    # The annotation says 512 x 512, the file is 512 x 600: its crops were planned for another
    # image, so the shard skips it with the reason, as the anchor and detect jobs do.
    items = (_item("astronaut.jpg", [[0, 0, 100, 100]]), _item("grace_hopper.jpg", [[5, 5, 50, 50]], (512, 512)))
    job = MtcnnJob(str(tmp_path), "pnet", "packed", 12, False, "png", str(embedded.ROOT), None)
    result = job.run_shard(ShardTask(0, items))
    assert result.samples == 1 and [image for image, _ in result.skipped] == ["grace_hopper.jpg"]
