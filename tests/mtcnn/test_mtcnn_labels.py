"""samplegen.mtcnn.labels: codes, names, regression targets and mirroring."""
from __future__ import annotations

import numpy as np

from samplegen.mtcnn.labels import (CLASS_CODES, CLASS_NAMES, CLASS_ORDER, LANDMARK, NEG, PART, POS,
                                    mirror_landmarks, mirror_roi, regression_targets)


def test_codes_are_the_mtcnn_list_convention():
    # B.1: 1 pos, 0 neg, -1 part, -2 landmark.
    assert (POS, NEG, PART, LANDMARK) == (1, 0, -1, -2)
    assert CLASS_ORDER == (POS, NEG, PART, LANDMARK)
    assert [CLASS_NAMES[c] for c in CLASS_ORDER] == ["pos", "neg", "part", "landmark"]
    assert all(CLASS_CODES[CLASS_NAMES[c]] == c for c in CLASS_ORDER)


def test_regression_target_hand_example():
    # crop [10, 20, 30, 40] (side 20), face [12, 18, 28, 44]: (2/20, -2/20, -2/20, 4/20).
    roi = regression_targets(np.array([[10, 20, 30, 40]]), np.array([[12, 18, 28, 44]]))
    assert roi.dtype == np.float32
    np.testing.assert_allclose(roi, [[0.1, -0.1, -0.1, 0.2]], rtol=1e-6)


def test_regression_target_round_trip():
    rng = np.random.default_rng(0)
    crops = np.concatenate([rng.integers(0, 500, (50, 2)), np.zeros((50, 2))], 1).astype(np.float64)
    side = rng.integers(1, 200, 50)
    crops[:, 2:] = crops[:, :2] + side[:, None]
    faces = crops + rng.normal(0, 10, (50, 4))
    roi = regression_targets(crops, faces)
    np.testing.assert_allclose(crops + roi * side[:, None], faces, atol=1e-3)


def test_regression_targets_empty():
    assert regression_targets(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0, 4)


def test_mirror_roi_matches_mirrored_geometry():
    # Mirror crop and face about the crop's vertical axis and recompute the target directly.
    crop = np.array([[10.0, 20.0, 30.0, 40.0]])
    face = np.array([[12.0, 18.0, 27.0, 44.0]])
    mirrored_face = np.array([[10 + 30 - 27.0, 18.0, 10 + 30 - 12.0, 44.0]])
    np.testing.assert_allclose(mirror_roi(regression_targets(crop, face)),
                               regression_targets(crop, mirrored_face), atol=1e-6)
    np.testing.assert_allclose(mirror_roi(np.array([[1, 2, 3, 4]])), [[-3, 2, -1, 4]])


def test_mirror_landmarks_flips_x_and_swaps_sides():
    points = np.array([[[0.3, 0.4], [0.7, 0.41], [0.5, 0.6], [0.35, 0.8], [0.65, 0.81]]])
    out = mirror_landmarks(points)
    # Left eye of the mirrored crop is the old right eye, at 1 - 0.7.
    np.testing.assert_allclose(out[0], [[0.3, 0.41], [0.7, 0.4], [0.5, 0.6], [0.35, 0.81], [0.65, 0.8]], atol=1e-6)
    np.testing.assert_allclose(mirror_landmarks(out), points, atol=1e-6)
