"""The keyword route's index: filled by the upgrade from schema 3, kept by every write."""

from __future__ import annotations

import json

from vsearch.index import Index
from vsearch.store.fulltext import keyword_search, matched_words, query_words
from vsearch.store.models import SCHEMA_VERSION

from ..conftest import HashEncoder
from .schema_v3 import downgrade_to_v3
from .test_catalog import _shape


def test_query_words_fold_case_and_accents_and_matches_keep_the_text_s_spelling():
    assert query_words("Café, CAFE and café!") == ["cafe", "and"]
    assert matched_words("Le Café de Flore", ["cafe", "flore"]) == ["Café", "Flore"]


def test_a_schema_3_index_gets_its_texts_searchable_by_word_without_re_encoding(
    tmp_path, store_url
):
    root, folder = tmp_path / "notes", tmp_path / "idx"
    root.mkdir()
    (root / "a.txt").write_text("The glacier retreats every summer")
    (root / "b.md").write_text("A recipe for lemon cake")
    with Index.create(folder, encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest(root)
    downgrade_to_v3(folder)
    encoder = HashEncoder()
    with Index.open(folder, encoder=encoder) as idx:
        assert idx.store.get_meta("schema_version") == SCHEMA_VERSION
        assert [h.path for h in idx.search("glacier", route="keyword")] == ["a.txt"]
        assert {r.text_source for r in idx.store.all_items()} == {"file"}
        assert idx.ingest().encoded == 0 and encoder.calls == 0
        migrated = _shape(idx)
    with Index.create(tmp_path / "new", encoder=HashEncoder(), store_url=store_url) as new:
        assert _shape(new) == migrated
    assert json.loads((folder / "vsearch.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_the_word_index_follows_changed_and_deleted_items(tmp_path, store_url):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.txt").write_text("apples and pears")
    (root / "b.txt").write_text("pears only")
    with Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest(root)
        ids = {r.path: r.id for r in idx.store.all_items()}
        assert sorted(keyword_search(idx.store, "pears", 5)[0]) == sorted(ids.values())
        (root / "a.txt").write_text("plums now")
        (root / "b.txt").unlink()
        idx.ingest()
        assert keyword_search(idx.store, "pears", 5) == ([], [])
        assert keyword_search(idx.store, "plums", 5)[0] == [ids["a.txt"]]
        # every word first; when no item has them all, any of them
        assert keyword_search(idx.store, "plums cherries", 5)[0] == [ids["a.txt"]]
        assert keyword_search(idx.store, "plums", 5, filters=None)[0] == [ids["a.txt"]]
