"""Filters as SQL over a real store, with over-fetching so top-k stays k."""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, text

from vsearch.errors import QueryError
from vsearch.index import Index
from vsearch.query import Filters
from vsearch.store.filters import matching_ids
from vsearch.store.metadata import MetadataStore, vector_to_bytes
from vsearch.store.models import FolderRow, ItemRow, VectorRow
from vsearch.store.retrieval import SELECTOR_AT, filtered_search
from vsearch.store.vectors import VectorIndex

from ..conftest import HashEncoder, write_image


def _exif_jpeg(path, seed, make, when):
    write_image(path, seed=seed)
    exif = Image.Exif()
    exif[0x010F] = make  # Make
    exif[0x0132] = when  # DateTime
    exif[0x8827] = 800 if make == "Canon" else 100  # ISOSpeedRatings
    Image.open(path).save(path, exif=exif)


@pytest.fixture
def facts_index(tmp_path):
    root = tmp_path / "photos"
    _exif_jpeg(root / "trips" / "a.jpg", 1, "Canon", "2023:07:01 10:00:00")
    _exif_jpeg(root / "trips" / "b.jpg", 2, "Nikon", "2024:02:10 09:30:00")
    write_image(root / "home" / "c.png", seed=3)
    noise = np.random.default_rng(4).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    Image.fromarray(noise).save(root / "big.png")  # ~360 KB: the only large file
    (root / "home" / "notes.txt").write_text("coffee beans and milk")
    when = datetime(2022, 5, 5, 12).timestamp()
    for name in ("home/c.png", "big.png", "home/notes.txt"):
        os.utime(root / name, (when, when))
    index = Index.create(tmp_path / "idx", encoder=HashEncoder())
    index.ingest(root)
    yield index
    index.close()


def paths(index, filters, **kw):
    return sorted(h.path for h in index.search("anything", k=10, filters=filters, **kw))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([], ["big.png", "home/c.png", "home/notes.txt", "trips/a.jpg", "trips/b.jpg"]),
        (["kind=text"], ["home/notes.txt"]),
        (["kind!=text", "folder=home"], ["home/c.png"]),
        (["folder=trips"], ["trips/a.jpg", "trips/b.jpg"]),
        (["path=*.png"], ["big.png", "home/c.png"]),
        (["path=trips/?.jpg", "Make=canon"], ["trips/a.jpg"]),
        (["path!=*.jpg", "kind=image"], ["big.png", "home/c.png"]),
        (["date=2024"], ["trips/b.jpg"]),
        (["date>=2023-07", "date<2024-02-10"], ["trips/a.jpg"]),
        (["date<=2022-05"], ["big.png", "home/c.png", "home/notes.txt"]),
        (["date>2022"], ["trips/a.jpg", "trips/b.jpg"]),
        (["date!=2023"], ["big.png", "home/c.png", "home/notes.txt", "trips/b.jpg"]),
        (["size>100KB"], ["big.png"]),
        (["width>=400", "height=300"], ["big.png"]),
        (["ISOSpeedRatings>=400"], ["trips/a.jpg"]),
        (["Make~iko"], ["trips/b.jpg"]),
        (["text~BEANS"], ["home/notes.txt"]),
    ],
)
def test_each_filter_selects_exactly_its_items(facts_index, filters, expected):
    assert paths(facts_index, filters) == expected


def test_filters_object_and_strings_agree(facts_index):
    assert paths(facts_index, Filters.parse(["folder=trips"])) == paths(
        facts_index, ["folder=trips"]
    )


def test_min_score_keeps_only_close_hits(facts_index, tmp_path):
    query = tmp_path / "photos" / "big.png"
    hits = facts_index.search(image=query, k=5, min_score=0.99)
    assert [h.path for h in hits] == ["big.png"]
    assert facts_index.search(image=query, k=5, min_score=1.0) in ([], hits)  # 1.0 is the top
    with pytest.raises(ValueError, match=r"in \[-1, 1\], got 1.01"):
        facts_index.search(image=query, k=5, min_score=1.01)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("kind", "bad filter 'kind': write FIELD OP VALUE"),
        ("kind=video", "use kind=image, kind=text or kind=page"),
        ("size<lots", "write e.g. 500KB or 2MB"),
        ("date>=yesterday", "'yesterday' is not a date"),
        ("colour=red", "unknown filter field 'colour'"),
        ("width~3", "works on text fields only"),
        ("width>wide", "'wide' is not a number"),
        ("path>a", "paths take = or !="),
    ],
)
def test_bad_filters_raise_before_searching(facts_index, condition, message):
    with pytest.raises(QueryError, match=message):
        facts_index.search("x", filters=[condition])


def test_a_str_is_not_taken_for_a_list_of_conditions(facts_index):
    with pytest.raises(TypeError, match="not a str"):
        facts_index.search("x", filters="kind=image")


# ---- over-fetching, against brute force ----------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """6,000 random unit vectors; every 2nd item is a text, every 100th and 1,000th is rare."""
    n, dim = 6000, 16
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1, n + 1)
    folder = tmp_path_factory.mktemp("synthetic")
    store = MetadataStore(f"sqlite:///{folder / 'm.sqlite'}")
    store.create({})
    now = datetime.now()
    with store.transaction() as session:
        session.add(FolderRow(id=1, path="photos", excludes=[], added_at=now))
        session.flush()
        session.add_all(
            ItemRow(
                id=int(i),
                folder_id=1,
                path=f"{'rare' if i % 1000 == 0 else 'some' if i % 100 == 0 else 'p'}/{i}.jpg",
                kind="text" if i % 2 else "image",
                size=int(i),
                mtime_ns=1,
                indexed_at=now,
            )
            for i in ids
        )
        session.add_all(
            VectorRow(item_id=int(i), vector=vector_to_bytes(v))
            for i, v in zip(ids, vecs, strict=True)
        )
    yield VectorIndex.build("flat", dim, ids, vecs), store, ids, vecs
    store.close()


@pytest.mark.parametrize(
    ("condition", "passes"),
    [
        ("kind=image", lambda i: i % 2 == 0),
        ("folder=some", lambda i: i % 100 == 0 and i % 1000 != 0),
        ("folder=rare", lambda i: i % 1000 == 0),
        ("size<=3000", lambda i: i <= 3000),
    ],
)
@pytest.mark.parametrize("k", [1, 10, 50])
def test_filtered_top_k_is_the_brute_force_top_k_of_passing_items(synthetic, condition, passes, k):
    vectors, store, ids, vecs = synthetic
    rng = np.random.default_rng(k)
    for _ in range(3):
        query = rng.standard_normal(vecs.shape[1]).astype(np.float32)
        query /= np.linalg.norm(query)
        scores, got = filtered_search(vectors, store, query, k, filters=Filters.parse([condition]))
        mask = np.array([passes(int(i)) for i in ids])
        brute = vecs[mask] @ query
        order = np.argsort(-brute, kind="stable")[:k]
        assert len(got) == min(k, int(mask.sum()))  # top-k stays k whenever k items pass
        np.testing.assert_allclose(scores, brute[order], rtol=1e-5)
        assert set(got.tolist()) == set(ids[mask][order].tolist())


def test_selective_filters_score_the_few_that_pass_and_permissive_ones_do_not(
    synthetic, monkeypatch
):
    vectors, store, _, vecs = synthetic
    calls = []
    original = VectorIndex.exact_vectors
    monkeypatch.setattr(
        VectorIndex,
        "exact_vectors",
        lambda self, ids: calls.append(len(ids)) or original(self, ids),
    )
    filtered_search(vectors, store, vecs[0], 10, filters=Filters.parse(["kind=image"]))
    assert calls == []
    filtered_search(vectors, store, vecs[0], 10, filters=Filters.parse(["folder=rare"]))
    assert calls == [6]
    assert len(vectors) > SELECTOR_AT


def test_folder_filters_are_exact_prefixes_read_through_the_path_index(synthetic):
    _, store, _, _ = synthetic
    query = select(ItemRow.id).where(
        ItemRow.status == "ok", Filters.parse(["folder=rare"]).clause()
    )
    sql = query.compile(store.engine, compile_kwargs={"literal_binds": True})
    store.refresh_planner_statistics()  # what every writer does on its way out
    with store.transaction() as session:
        plan = " ".join(str(row) for row in session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    assert "sqlite_autoindex_items_1 (path>? AND path<?)" in plan, plan  # both bounds
    assert len(matching_ids(store, Filters.parse(["folder=Rare"]))) == 0  # case matters
    assert len(matching_ids(store, Filters.parse(["folder=rar"]))) == 0  # a whole folder name


def test_min_score_with_filters_stops_early(synthetic):
    vectors, store, _, vecs = synthetic
    scores, got = filtered_search(
        vectors, store, vecs[1], 10, filters=Filters.parse(["kind=image"]), min_score=0.99
    )
    assert got.tolist() == [2] and scores[0] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_selective_filters_work_on_approximate_index_kinds(synthetic, kind):
    _, store, ids, vecs = synthetic
    vectors = VectorIndex.build(kind, vecs.shape[1], ids, vecs)
    rare = ids[ids % 1000 == 0]
    for item in rare:
        _, got = filtered_search(
            vectors, store, vecs[item - 1], 3, filters=Filters.parse(["folder=rare"])
        )
        assert set(got.tolist()) <= set(rare.tolist()) and len(got) == 3
        assert got[0] == item  # the item itself, found through the id selector
