"""VQA answer ranking and classification: exact scores with the hash encoder, semantics with
label-bridge on real photos."""

from __future__ import annotations

import numpy as np
import pytest

from vsearch.encoders import Item
from vsearch.errors import QueryError, UnsupportedInput
from vsearch.index import Index
from vsearch.query import classify_images, classify_items, rank_answers, read_choices
from vsearch.query.search import load_image

from ..conftest import DATA, HashEncoder


def test_rank_answers_scores_each_answer_against_image_and_question(photo_dir):
    enc = HashEncoder()
    image = photo_dir / "img0.jpg"
    ranked = rank_answers(enc, image, "What colour?", ["red", "blue", "red", " ", "green"])
    query = enc.encode([Item(image=load_image(image, 256), text="What colour?")])[0]
    answers = ["red", "blue", "green"]
    expected = enc.encode([Item(text=a) for a in answers]) @ query
    assert sorted(r.label for r in ranked) == sorted(answers)  # duplicates and blanks dropped
    assert [r.score for r in ranked] == sorted(expected.tolist(), reverse=True)
    assert ranked[0].to_dict() == {"label": ranked[0].label, "score": round(ranked[0].score, 6)}


def test_rank_and_classify_refuse_empty_input(photo_dir, tmp_path):
    enc = HashEncoder()
    with pytest.raises(QueryError, match="no answers given"):
        rank_answers(enc, photo_dir / "img0.jpg", "Why?", [" "])
    with pytest.raises(QueryError, match="question is empty"):
        rank_answers(enc, photo_dir / "img0.jpg", " ", ["a"])
    with pytest.raises(UnsupportedInput, match="does not exist"):
        rank_answers(enc, tmp_path / "none.jpg", "Why?", ["a"])
    with pytest.raises(QueryError, match="no labels given"):
        classify_images(enc, [photo_dir / "img0.jpg"], [])


def test_choices_file_skips_blanks_and_comments(tmp_path):
    (tmp_path / "labels.txt").write_text("# animals\ncat\n\n  dog \n")
    assert read_choices(tmp_path / "labels.txt") == ["cat", "dog"]
    with pytest.raises(UnsupportedInput, match="cannot read"):
        read_choices(tmp_path / "none.txt")


def test_classify_items_uses_stored_vectors_without_reencoding(tmp_path, photo_dir):
    (photo_dir / "notes.txt").write_text("groceries")
    enc = HashEncoder()
    with Index.create(tmp_path / "idx", encoder=enc) as index:
        index.ingest(photo_dir)
        before = enc.calls
        results = classify_items(index, ["groceries", "holiday"])
        assert enc.calls == before + 2  # the two labels only
        assert [r.source for r in results] == sorted(r.source for r in results)
        assert len(results) == 7
        notes_path = str(photo_dir.resolve() / "notes.txt")  # absolute, as query prints them
        notes = next(r for r in results if r.source == notes_path)
        assert (notes.label, notes.score) == ("groceries", pytest.approx(1.0))
        only = classify_items(index, ["groceries"], filters=["kind=image"])
        assert len(only) == 6 and notes_path not in {r.source for r in only}


def test_label_bridge_ranks_answers_and_classifies_real_photos(label_bridge):
    labels = ["a cat", "a cup of coffee", "a rocket"]
    photos = [DATA / "cat.jpg", DATA / "coffee.jpg", DATA / "rocket.jpg"]
    results = classify_images(label_bridge, photos, labels)
    assert [r.label for r in results] == labels
    assert results[0].source == str(photos[0])
    ranked = rank_answers(label_bridge, DATA / "cat.jpg", "What animal is this?", labels)
    assert ranked[0].label == "a cat"
    assert np.diff([r.score for r in ranked]).max() <= 0
