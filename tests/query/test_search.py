"""Weighted, composed and instructed queries on a real tiny index, exact with the hash encoder."""

from __future__ import annotations

import numpy as np
import pytest

from vsearch.encoders import Item
from vsearch.encoders.instructions import TASKS
from vsearch.errors import QueryError
from vsearch.index import Index
from vsearch.query import run_query
from vsearch.query.search import load_image

from ..conftest import HashEncoder


@pytest.fixture
def index(tmp_path, photo_dir):
    idx = Index.create(tmp_path / "idx", encoder=HashEncoder())
    idx.ingest(photo_dir)
    yield idx
    idx.close()


def _brute_force(index, query_emb, k):
    ids, vecs = next(index.store.iter_vectors())
    scores = vecs @ query_emb
    order = np.argsort(-scores, kind="stable")[:k]
    return ids[order].tolist(), scores[order]


def test_weighted_arithmetic_is_the_normalised_weighted_sum(index, photo_dir):
    enc = HashEncoder()
    img3 = enc.encode([Item(image=load_image(photo_dir / "img3.png", 256))])[0]
    img4 = enc.encode([Item(image=load_image(photo_dir / "sub" / "img4.webp", 256))])[0]
    fruit = enc.encode([Item(text="fruit")])[0]
    expected = 2 * img3 + img4 - 0.5 * fruit
    expected /= np.linalg.norm(expected)
    tokens = [f"2:{photo_dir / 'img3.png'}", "+", str(photo_dir / "sub" / "img4.webp")]
    result = run_query(index, [*tokens, "-", "0.5:fruit"], k=7)
    ids, scores = _brute_force(index, expected, 7)
    assert [h.id for h in result.hits] == ids
    np.testing.assert_allclose([h.score for h in result.hits], scores, rtol=1e-5)
    assert [h.path for h in result.hits[:2]] == ["img3.png", "sub/img4.webp"]
    assert [p.weight for p in result.parts] == [2.0, 1.0, -0.5]


def test_a_single_part_is_exactly_index_search(index, photo_dir):
    for text, image in [("Shopping list: apples, coffee, bread.", None), (None, "img3.png")]:
        path = None if image is None else photo_dir / image
        plain = index.search(text, path, k=5)
        tokens = [text] if text else []
        assert run_query(index, tokens, image=path, k=5).hits == plain


def test_instructions_are_chosen_per_part_and_recorded(index, photo_dir):
    img = photo_dir / "img3.png"
    cases = [
        ([text := "red car"], None, TASKS["retrieval"].query),
        ([str(img)], None, TASKS["image_retrieval"].query),
        (["the same but red"], img, TASKS["composed"].query),
        ([str(img), "but", "red"], None, TASKS["composed"].query),
    ]
    for tokens, image, instruction in cases:
        result = run_query(index, tokens, image=image, k=1)
        assert result.instruction == instruction
        record = next(result.records())
        assert record["instruction"] == instruction and record["rank"] == 1
    mixed = run_query(index, [text, "+", str(img)], k=1)
    assert mixed.instruction is None
    parts = next(mixed.records())["parts"]
    assert [p["instruction"] for p in parts] == [
        TASKS["retrieval"].query,
        TASKS["image_retrieval"].query,
    ]
    custom = run_query(index, ["x"], instruction="Represent the given text.", k=1)
    assert next(custom.records())["instruction"] == "Represent the given text."


def test_composed_query_embeds_image_and_text_together(index, photo_dir):
    img = photo_dir / "img3.png"
    result = run_query(index, ["make it red"], image=img, k=7)
    expected = HashEncoder().encode([Item(image=load_image(img, 256), text="make it red")])[0]
    ids, scores = _brute_force(index, expected, 7)
    assert [h.id for h in result.hits] == ids
    np.testing.assert_allclose([h.score for h in result.hits], scores, rtol=1e-5)


def test_filters_and_min_score_apply_to_queries(index, photo_dir):
    result = run_query(index, [str(photo_dir / "img3.png")], k=3, filters=["folder=sub"])
    assert {h.path for h in result.hits} == {"sub/img4.webp", "sub/img5.png"}
    close = run_query(index, [str(photo_dir / "img3.png")], k=3, min_score=0.999)
    assert [h.path for h in close.hits] == ["img3.png"]


def test_cancelling_parts_and_bad_k_are_refused(index):
    with pytest.raises(QueryError, match="cancel out"):
        run_query(index, ["cat", "-", "cat"])
    with pytest.raises(ValueError, match="k must be"):
        run_query(index, ["cat"], k=0)
