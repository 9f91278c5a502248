"""The MTCNN contact sheet: section layout, tile contents, drawn regression boxes and landmarks."""
from __future__ import annotations

import numpy as np
import pytest

from samplegen.mtcnn.labels import LANDMARK, NEG, PART, POS
from samplegen.render import draw
from samplegen.render.sheet import (SHEET_ORDER, SheetLayout, contact_sheet, draw_tile, regression_box,
                                    select_sections, sheet_shape, tile_origins)

T = 96


def sample(cls: int, value: int, roi=(0, 0, 0, 0), landmark=None, iou=0.5, size=12) -> dict:
    """A flat-coloured crop (every pixel = value) so a tile's own pixels are recognisable."""
    return {"image": np.full((size, size, 3), value, np.uint8), "cls": cls,
            "roi": np.asarray(roi, np.float32),
            "landmark": np.asarray(landmark if landmark is not None else [0] * 10, np.float32),
            "iou": np.float32(iou), "mirror": False, "angle": np.float32(0)}


def is_colour(pixel, colour) -> bool:
    return tuple(int(v) for v in pixel) == tuple(colour)


def test_regression_box_is_the_face_in_tile_pixels():
    # roi (0.125, 0.25, -0.125, -0.0625) on a 96 px tile: face [12, 24, 84, 90] -> pixel
    # columns 12..83 and rows 24..89 (half-open box, hand-computed).
    roi = (0.125, 0.25, -0.125, -0.0625)
    np.testing.assert_allclose(regression_box(np.array(roi), T), [12, 24, 84, 90])
    tile = draw_tile(sample(POS, 100, roi), T, 0)
    assert tile.shape == (T, T, 3)
    for y, x in ((50, 12), (50, 83), (24, 50), (89, 50), (50, 13)):  # outline (2 px thick)
        assert is_colour(tile[y, x], draw.BOX_COLOUR), (y, x)
    for y, x in ((50, 11), (50, 84), (23, 50), (90, 50), (50, 20), (60, 60)):  # outside / inside
        assert is_colour(tile[y, x], (100, 100, 100)), (y, x)


def test_part_box_leaving_the_crop_is_clipped_not_shifted():
    tile = draw_tile(sample(PART, 100, (-0.5, 0.5, 0.0, 0.0)), T, 0)  # face [-48, 48, 96, 96]
    assert is_colour(tile[48, 60], draw.BOX_COLOUR) and is_colour(tile[95, 60], draw.BOX_COLOUR)
    assert is_colour(tile[47, 60], (100, 100, 100)) and is_colour(tile[60, 0], (100, 100, 100))


def test_landmarks_drawn_at_their_normalised_positions():
    points = [0.25, 0.3, 0.75, 0.3, 0.5, 0.5, 0.3, 0.8, 0.7, 0.8]
    tile = draw_tile(sample(LANDMARK, 100, landmark=points), T, 0)
    for x, y in np.reshape(points, (5, 2)) * T:
        assert is_colour(tile[int(y), int(x)], draw.LANDMARK_COLOUR)
    # a landmark row without roi (rotated sample) has no box, and no red away from the points
    assert not np.any(np.all(tile == draw.BOX_COLOUR, axis=2))
    assert is_colour(tile[10, 10], (100, 100, 100))


def test_negative_tile_has_no_drawing_and_caption_is_separate():
    tile = draw_tile(sample(NEG, 100, iou=0.1), T, 14)
    assert tile.shape == (T + 14, T, 3)
    assert np.all(tile[:T] == 100)
    assert np.any(tile[T:] != np.array(draw.BACKGROUND, np.uint8))  # the IoU text


def make_samples() -> list[dict]:
    # output order: interleaved classes; value encodes (class, rank) so each tile is recognisable
    order = [POS, NEG, POS, PART, POS, LANDMARK, POS, POS, LANDMARK, LANDMARK, LANDMARK, LANDMARK]
    seen: dict[int, int] = {}
    out = []
    for cls in order:
        seen[cls] = seen.get(cls, 0) + 1
        out.append(sample(cls, 20 * SHEET_ORDER.index(cls) + seen[cls]))
    return out


def test_sections_take_the_first_n_of_each_class_in_output_order():
    sections = select_sections(make_samples(), per_class=3)
    assert [s.name for s in sections] == ["pos", "part", "neg", "landmark"]
    assert [len(s.samples) for s in sections] == [3, 1, 1, 3]
    assert [s.total for s in sections] == [5, 1, 1, 5]
    assert [int(s["image"][0, 0, 0]) for s in sections[0].samples] == [1, 2, 3]


def test_known_totals_stop_reading_early():
    samples = make_samples()
    consumed = []

    def stream():
        for s in samples:
            consumed.append(s)
            yield s

    totals = {POS: 5, PART: 1, NEG: 1, LANDMARK: 5}
    sections = select_sections(stream(), 2, totals)
    assert [len(s.samples) for s in sections] == [2, 1, 1, 2]
    assert len(consumed) == 9  # the second landmark is sample 9 of 12
    assert [s.total for s in sections] == [5, 1, 1, 5]


@pytest.mark.parametrize("per_class,columns", [(3, 2), (2, 5), (0, 3)])
def test_sheet_layout_tiles_in_their_slots(per_class, columns):
    layout = SheetLayout(tile=36, columns=columns, caption=10, gap=3, title=16)
    sections = select_sections(make_samples(), per_class)
    counts = [len(s.samples) for s in sections]
    assert counts == [min(per_class, n) for n in (5, 1, 1, 5)]
    sheet = contact_sheet(sections, layout)
    assert sheet.shape[:2] == sheet_shape(layout, counts)
    rows = [-(-n // columns) for n in counts]
    assert sheet.shape[0] == sum(16 + 3 + r * (36 + 10 + 3) for r in rows)
    assert sheet.shape[1] == columns * 39 + 3
    for section, origins in zip(sections, tile_origins(layout, counts)):
        assert len(origins) == len(section.samples)
        for s, (y, x) in zip(section.samples, origins):
            # the tile's centre pixel is the crop's own value (flat crops, zero roi/landmarks)
            assert int(sheet[y + 18, x + 18, 0]) == int(s["image"][0, 0, 0])
    # slots after the last tile of a row are background
    if counts[1] == 1 and columns > 1:
        y, x = tile_origins(layout, counts)[1][0]
        assert is_colour(sheet[y + 18, x + 36 + 3 + 18], draw.BACKGROUND)


def test_margin_shows_the_part_of_the_box_outside_the_crop():
    # crop inside a larger face: roi (-0.25, -0.25, 0.25, 0.25) -> face [-24, -24, 120, 120] in
    # crop pixels, [0, 0, 144, 144] in a cell with a 24 px margin: the whole outline is visible.
    tile = draw_tile(sample(PART, 100, (-0.25, -0.25, 0.25, 0.25)), T, 0, margin=24)
    assert tile.shape == (144, 144, 3)
    for y, x in ((0, 70), (143, 70), (70, 0), (70, 143)):
        assert is_colour(tile[y, x], draw.BOX_COLOUR), (y, x)
    assert is_colour(tile[24 + 48, 24 + 48], (100, 100, 100))  # crop centre
    assert is_colour(tile[10, 70], draw.BACKGROUND)  # the margin between outline and crop
    assert np.all(tile[24:120, 24:120] == 100)  # the crop itself is untouched


def test_layout_with_margin_places_crops_inside_cells():
    layout = SheetLayout(tile=36, columns=2, caption=10, gap=3, title=16, margin=6)
    sections = select_sections(make_samples(), 3)
    counts = [len(s.samples) for s in sections]
    sheet = contact_sheet(sections, layout)
    assert sheet.shape[1] == 2 * (48 + 3) + 3
    for section, origins in zip(sections, tile_origins(layout, counts)):
        for s, (y, x) in zip(section.samples, origins):
            assert int(sheet[y + 18, x + 18, 0]) == int(s["image"][0, 0, 0])
            assert is_colour(sheet[y - 3, x + 18], draw.BACKGROUND)  # the margin above the crop
