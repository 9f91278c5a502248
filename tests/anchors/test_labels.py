"""The assignment encoding (mmdet's): 0 negative, -1 ignore, k + 1 positive on gt k."""
import numpy as np

from samplegen.anchors.labels import FIRST_POSITIVE, IGNORE, NEGATIVE, gt_index_of, positive_mask


def test_constants_match_mmdetection():
    assert (NEGATIVE, IGNORE, FIRST_POSITIVE) == (0, -1, 1)


def test_gt_index_is_one_based():
    assigned = np.array([0, -1, 3, 1], np.int32)
    assert gt_index_of(assigned).tolist() == [2, 0]
    assert positive_mask(assigned).tolist() == [False, False, True, True]
