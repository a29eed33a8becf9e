"""A text query by meaning and by its words: the vector search and the keyword route, fused.

``semantic``: cosine similarity of the query vector (the items' vectors carry their recognised
text too, ``vsearch.ingest.fusion``). ``keyword``: the items whose text holds the query's words
(all of them, else any), by BM25 (no model is loaded). ``hybrid`` (the default for a text
query): the semantic list and the items holding every word merged by reciprocal rank fusion, so
an exact match the vectors rank low still comes up, and a query whose words no item holds all
is answered by meaning alone. Hits name the query words their text
holds (``matched``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from vsearch.hit import Hit
from vsearch.store.filters import Filters
from vsearch.store.fulltext import matched_words, query_words, snippet
from vsearch.store.retrieval import check_min_score

if TYPE_CHECKING:
    from vsearch.query.target import SearchTarget

ROUTES = ("hybrid", "semantic", "keyword")
#: Reciprocal rank fusion's constant (Cormack et al. 2009): a hit scores 1 / (RRF_K + rank) in
#: each list it is in; 60 is the paper's value, which keeps one list's top from drowning the other.
RRF_K = 60
#: Candidates each route contributes before fusing (at least ``k``).
CANDIDATES = 50


def check_route(route: str) -> None:
    if route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")


def text_search(
    index: SearchTarget,
    text: str,
    query_emb: np.ndarray | None,
    *,
    k: int,
    filters: Filters,
    min_score: float | None,
    route: str = "hybrid",
) -> list[Hit]:
    """Hits for a text query by ``route``.

    Args:
        index: an open index.
        text: the query's words (for the keyword route and ``matched``).
        query_emb: ``(dim,)`` float32 unit query vector; None only for ``route="keyword"``.
        k: how many hits.
        filters: conditions every hit meets.
        min_score: drop hits whose cosine similarity is below this (semantic and hybrid).
        route: ``hybrid``, ``semantic`` or ``keyword``.

    Returns:
        Hits, best first; ``score`` is the cosine similarity (``keyword``: BM25 relevance).
    """
    check_route(route)
    check_min_score(min_score)
    words = query_words(text)
    if route == "keyword":
        ids, relevance = index.catalog.keyword_search(text, k, filters=filters)
        return _with_matches(index, index.catalog.hits(ids, relevance), words)
    assert query_emb is not None
    if route == "semantic" or not words:
        hits = index.search_vector(query_emb, k=k, filters=filters, min_score=min_score)
        return _with_matches(index, hits, words)
    wanted = max(k, CANDIDATES)
    semantic = index.search_vector(query_emb, k=wanted, filters=filters)
    # Only items holding every word: measured on bench/bench_ocr.py, letting items that share
    # one word ("the") in halved the paraphrase R@1 of the fused list.
    keyword, _ = index.catalog.keyword_search(text, wanted, filters=filters, any_word=False)
    fused: dict[int, float] = {}
    for ranked in ([h.id for h in semantic], keyword):
        for rank, item_id in enumerate(ranked, 1):
            fused[item_id] = fused.get(item_id, 0.0) + 1.0 / (RRF_K + rank)
    cosine = {h.id: h.score for h in semantic}
    cosine |= index.catalog.scores_of(query_emb, [i for i in keyword if i not in cosine])
    order = sorted(fused, key=lambda i: (-fused[i], -cosine.get(i, -1.0), i))
    if min_score is not None:
        order = [i for i in order if cosine.get(i, -1.0) >= min_score]
    top = order[:k]
    return _with_matches(index, index.catalog.hits(top, [cosine.get(i, 0.0) for i in top]), words)


def _with_matches(index: SearchTarget, hits: list[Hit], words: list[str]) -> list[Hit]:
    """Each hit with the query words its text holds (``matched``) and the passage around the
    first of them (``snippet``), where it holds any."""
    with_text = [h.id for h in hits if h.metadata.get("text")]
    if not words or not with_text:
        return hits
    texts = {i: row.text for i, row in index.catalog.store.items_by_id(with_text).items()}
    out = []
    for hit in hits:
        found = matched_words(texts.get(hit.id), words)
        if found:
            passage = snippet(texts[hit.id], found[0])
            hit = replace(hit, metadata={**hit.metadata, "matched": found, "snippet": passage})
        out.append(hit)
    return out
