"""The query parser on good and bad inputs, with property tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsearch.errors import QueryError
from vsearch.query.parser import ParsedQuery, QueryPart, looks_like_image, parse_query

from ..conftest import write_image


@pytest.fixture
def pool(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_image(tmp_path / "pool.jpg", seed=1)


def test_the_issue_example(pool):
    parsed = parse_query(["2:golden retriever", "+", "./pool.jpg", "-", "fruit"])
    assert parsed.parts == (
        QueryPart(2.0, text="golden retriever"),
        QueryPart(1.0, image=Path("./pool.jpg")),
        QueryPart(-1.0, text="fruit"),
    )


def test_unquoted_words_form_one_part_and_a_string_splits_on_whitespace(pool):
    assert parse_query(["golden", "retriever"]).parts == (QueryPart(1.0, "golden retriever"),)
    assert parse_query("0.5:cat  -  dog").parts == (
        QueryPart(0.5, "cat"),
        QueryPart(-1.0, "dog"),
    )
    assert parse_query(["salt + pepper"]).parts == (QueryPart(1.0, "salt + pepper"),)


def test_text_with_an_image_is_a_composed_part_and_image_option_composes(pool):
    assert parse_query(["./pool.jpg", "but", "red"]).parts == (
        QueryPart(1.0, "but red", Path("./pool.jpg")),
    )
    assert parse_query(["the same but red"], image=pool).parts == (
        QueryPart(1.0, "the same but red", pool),
    )
    assert parse_query([], image=pool).parts == (QueryPart(1.0, image=pool),)
    assert parse_query([f"file://{pool}"]).parts == (QueryPart(1.0, image=pool),)


def test_negative_weights_and_leading_sign(pool):
    assert parse_query(["cat", "-", "3:dog"]).parts[1] == QueryPart(-3.0, "dog")
    assert parse_query(["+", "cat"]).parts == (QueryPart(1.0, "cat"),)
    assert parse_query(["-", "dog", "+", "cat"]).parts[0].weight == -1.0
    assert parse_query(["-2:cat", "+", "dog"]).parts[0].weight == -2.0
    assert parse_query(["note: buy milk"]).parts == (QueryPart(1.0, "note: buy milk"),)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ([], "empty query"),
        (["  "], "empty query"),
        (["cat", "+"], r"the query ends with '\+'"),
        (["cat", "+", "-", "dog"], r"two operators in a row \('\+' then '-'\)"),
        (["-", "+", "dog"], "two operators in a row"),
        (["-", "dog"], "at least one part with a positive weight"),
        (["0:cat"], "weight 0"),
        (["./missing.jpg"], "query image ./missing.jpg does not exist"),
        (["red", "car.png"], "query image car.png does not exist"),
        (["https://example.com/a.jpg"], "does not fetch URLs"),
        (["./pool.jpg", "./pool.jpg"], "one part has two images"),
        (["cat", "-", "cat"], None),  # parses; cancelling is found when embedding
    ],
)
def test_bad_queries_raise_one_clear_error(pool, tokens, message):
    if message is None:
        assert len(parse_query(tokens).parts) == 2
        return
    with pytest.raises(QueryError, match=message):
        parse_query(tokens)


def test_image_option_on_an_image_part_is_refused(pool):
    with pytest.raises(QueryError, match="already the image"):
        parse_query(["./pool.jpg"], image=pool)
    with pytest.raises(QueryError, match="does not exist"):
        parse_query(["cat"], image=Path("nope.png"))


# ---- properties ----------------------------------------------------------------------------

words = st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12).filter(
    lambda s: s.strip() and not looks_like_image(s)
)
weights = st.sampled_from([1.0, 2.0, 0.5, 3.25, 10.0])


@given(st.lists(st.tuples(st.sampled_from(["+", "-"]), weights, words), min_size=1, max_size=6))
def test_rendered_parts_parse_back(parts):
    parts[0] = ("+", *parts[0][1:])
    tokens: list[str] = []
    for i, (op, weight, text) in enumerate(parts):
        if i:
            tokens.append(op)
        tokens.append(text if weight == 1.0 else f"{weight:g}:{text}")
    parsed = parse_query(tokens)
    expected = tuple(QueryPart((-1.0 if op == "-" else 1.0) * w, t.strip()) for op, w, t in parts)
    assert parsed == ParsedQuery(tuple(QueryPart(p.weight, p.text) for p in expected))


@given(
    st.lists(st.one_of(st.sampled_from(["+", "-", "2:", ":", "./x.jpg"]), st.text()), max_size=8)
)
def test_any_input_parses_or_raises_query_error(tokens):
    try:
        parsed = parse_query(tokens)
    except QueryError as exc:
        assert "\n" not in str(exc)
    else:
        assert any(p.weight > 0 for p in parsed.parts)
        assert all(p.text or p.image for p in parsed.parts)


@given(st.lists(words, min_size=1, max_size=5), st.lists(st.sampled_from(["+", "-"])))
def test_parts_are_one_more_than_operators(terms, ops):
    ops = (ops + ["+"] * len(terms))[: len(terms) - 1]
    tokens = [terms[0]]
    for op, term in zip(ops, terms[1:], strict=True):
        tokens += [op, term]
    parsed = parse_query(tokens)
    assert len(parsed.parts) == len(terms)
    assert [p.weight for p in parsed.parts] == [1.0] + [(-1.0 if o == "-" else 1.0) for o in ops]
