"""The keyword route: items whose text holds the query's words, ranked by the database's BM25.

SQLite answers from the FTS5 table ``items_fts`` (``bm25``), PostgreSQL from the GIN index on the
text's ``tsvector`` (``ts_rank``); both tables are kept by the schema itself (see
``vsearch.store.models``). Every word must occur; when no item holds them all, items holding
any of them are ranked instead, so a query with one stray word still finds something.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import column, func, literal_column, select, table

from vsearch.store.filters import Filters
from vsearch.store.metadata import MetadataStore
from vsearch.store.models import FTS_TABLE, STATUS_OK, ItemRow, text_vector

_WORD = re.compile(r"\w+")


def fold(word: str) -> str:
    """A word as both indexes compare it: lower case, accents removed."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def query_words(query: str) -> list[str]:
    """The distinct words of a query, folded, in order (``"Invoice, ACME!"`` -> invoice, acme)."""
    return list(dict.fromkeys(fold(w) for w in _WORD.findall(query)))


def matched_words(text: str | None, words: list[str]) -> list[str]:
    """The words of ``text`` (as written there) that match one of the query's ``words``."""
    if not text or not words:
        return []
    wanted = set(words)
    return list(dict.fromkeys(w for w in _WORD.findall(text) if fold(w) in wanted))


def snippet(text: str, word: str, width: int = 160) -> str:
    """About ``width`` characters of ``text`` around the first ``word``, on one line."""
    at = max(text.find(word), 0)
    start = max(0, at - width // 3)
    end = min(len(text), start + width)
    passage = " ".join(text[start:end].split())
    return ("…" if start else "") + passage + ("…" if end < len(text) else "")


def keyword_search(
    store: MetadataStore,
    query: str,
    k: int,
    *,
    filters: Filters | None = None,
    any_word: bool = True,
) -> tuple[list[int], list[float]]:
    """Top-``k`` indexed items for the words of ``query``; with ``any_word`` False, only items
    that hold every word (no fallback).

    Returns:
        ``(ids, scores)``: lists, best first; a score is the database's relevance (higher is
        better; not comparable with cosine similarities).
    """
    words = query_words(query)
    if not words:
        return [], []
    for every in (True, False) if any_word else (True,):
        found = _search(store, words, every, k, filters or Filters())
        if found[0] or len(words) == 1:
            return found
    return [], []


def _search(
    store: MetadataStore, words: list[str], every: bool, k: int, filters: Filters
) -> tuple[list[int], list[float]]:
    if store.dialect == "sqlite":
        match = (" " if every else " OR ").join(f'"{w}"' for w in words)
        fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))
        score = -func.bm25(literal_column(FTS_TABLE))  # bm25() is lower for better matches
        query = (
            select(ItemRow.id, score)
            .select_from(fts)
            .join(ItemRow, ItemRow.id == fts.c.rowid)
            .where(fts.c[FTS_TABLE].op("MATCH")(match))
        )
    else:
        tsquery = func.to_tsquery(
            literal_column("'simple'"), (" & " if every else " | ").join(words)
        )
        vector = text_vector(ItemRow.text)
        score = func.ts_rank(vector, tsquery)
        query = select(ItemRow.id, score).where(vector.op("@@")(tsquery))
    query = query.where(ItemRow.status == STATUS_OK, filters.clause())
    query = query.order_by(score.desc(), ItemRow.id).limit(k)
    with store.transaction() as session:
        rows = session.execute(query).all()
    return [int(r[0]) for r in rows], [float(r[1]) for r in rows]
