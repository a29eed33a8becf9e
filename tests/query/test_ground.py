"""Grounding on composed canvases where the right region is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vsearch.encoders import Item
from vsearch.encoders.instructions import TASKS
from vsearch.errors import QueryError
from vsearch.query import candidate_boxes, draw_regions, ground
from vsearch.query.ground import grounding_query, non_max_suppression

from ..conftest import DATA, HashEncoder

TARGET = (48, 32, 96, 64)


@pytest.fixture
def canvas(tmp_path):
    """A 96x64 noise canvas, and its bottom-right quarter saved alone as the exemplar."""
    pixels = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "canvas.png")
    Image.fromarray(pixels).crop(TARGET).save(tmp_path / "crop.png")
    return tmp_path / "canvas.png", tmp_path / "crop.png"


def test_candidate_boxes_cover_the_image_at_every_scale():
    boxes = candidate_boxes(96, 64)
    assert all(
        0 <= left < right <= 96 and 0 <= top < bottom <= 64 for left, top, right, bottom in boxes
    )
    assert TARGET in boxes and (0, 0, 48, 32) in boxes
    assert (24, 0, 96, 48) in boxes  # 0.75 scale, flush with the right edge
    assert len(boxes) == len(set(boxes))
    with pytest.raises(ValueError, match="scales"):
        candidate_boxes(10, 10, scales=[1.5])


def test_exemplar_finds_its_own_region_exactly(canvas):
    image, crop = canvas
    regions = ground(HashEncoder(), image, like=crop, top=3)
    assert regions[0].box == TARGET and regions[0].score == pytest.approx(1.0)
    assert len(regions) == 3 and all(r.score < 0.99 for r in regions[1:])


def test_phrase_scores_crops_against_image_with_the_grounding_instruction(canvas):
    image, _ = canvas
    enc = HashEncoder()
    regions = ground(enc, image, "the noisy corner", top=100, iou=1.0)
    picture = Image.open(image).convert("RGB")
    boxes = candidate_boxes(96, 64)
    prefix, text = grounding_query("the noisy corner")
    query = enc.encode([Item(image=picture, text=text)], prefix)[0]
    crops = enc.encode([Item(image=picture.crop(b)) for b in boxes], TASKS["grounding"].target)
    expected = crops @ query
    assert [r.box for r in regions] == [boxes[i] for i in np.argsort(-expected, kind="stable")]
    assert prefix + " " + text == TASKS["grounding"].query.format(x="the noisy corner")


def test_user_boxes_and_errors(canvas):
    image, crop = canvas
    regions = ground(HashEncoder(), image, like=crop, boxes=[(0, 0, 48, 32), TARGET], top=5)
    assert [r.box for r in regions] == [TARGET, (0, 0, 48, 32)]
    with pytest.raises(QueryError, match="not inside the 96x64 image"):
        ground(HashEncoder(), image, like=crop, boxes=[(0, 0, 200, 10)])
    with pytest.raises(QueryError, match="a phrase or an exemplar"):
        ground(HashEncoder(), image)
    with pytest.raises(QueryError, match="a phrase or an exemplar"):
        ground(HashEncoder(), image, "x", like=crop)


def test_non_max_suppression_drops_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    assert non_max_suppression(boxes, np.array([0.9, 0.8, 0.5]), 0.5) == [0, 2]
    assert non_max_suppression(boxes, np.array([0.9, 0.8, 0.5]), 1.0) == [0, 1, 2]


def test_draw_marks_the_best_box_in_red(canvas, tmp_path):
    image, crop = canvas
    regions = ground(HashEncoder(), image, like=crop, top=1)
    out = draw_regions(image, regions, tmp_path / "out.png")
    drawn = Image.open(out).convert("RGB")
    assert drawn.size == (96, 64)
    assert drawn.getpixel((TARGET[0], 50)) == (255, 0, 0)


def test_label_bridge_grounds_a_phrase_on_a_two_photo_canvas(label_bridge, tmp_path):
    canvas = Image.new("RGB", (320, 160))
    canvas.paste(Image.open(DATA / "cat.jpg").convert("RGB").resize((160, 160)), (0, 0))
    canvas.paste(Image.open(DATA / "rocket.jpg").convert("RGB").resize((160, 160)), (160, 0))
    canvas.save(tmp_path / "pair.png")
    halves = [(0, 0, 160, 160), (160, 0, 320, 160), (80, 0, 240, 160)]
    for phrase, expected in [("a rocket", halves[1]), ("a cat", halves[0])]:
        best = ground(label_bridge, tmp_path / "pair.png", phrase, boxes=halves, top=1)[0]
        assert best.box == expected, (phrase, best)
    # with the whole image in the query, an encoder that ignores instructions picks the crop
    # most like the whole picture: the reason label-bridge grounds by the phrase alone
    forced = ground(label_bridge, tmp_path / "pair.png", "a rocket", boxes=halves, context=True)
    assert forced[0].box != halves[1]
