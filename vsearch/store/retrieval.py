"""Search the vectors with filters on the items' facts: FAISS for the ranking, SQL for the facts.

A selective filter is exact over the few ids that pass (SQL finds them through its indexes where
it can); a broad one over-fetches candidates and checks them in SQL, so ``k`` hits come back
whenever ``k`` items pass.
"""

from __future__ import annotations

import numpy as np

from vsearch.store.filters import Filters, matching_ids
from vsearch.store.metadata import MetadataStore
from vsearch.store.vectors import VectorIndex

#: Candidates fetched per wanted hit when a filter may reject some, and at least MIN_FETCH:
#: a flat FAISS search costs the same for 10 or 256 results, and checking 256 ids in SQL takes
#: about a millisecond, so one round serves filters that pass down to ~5% of the items.
OVERFETCH = 4
MIN_FETCH = 256
#: Past this many candidates, one SQL pass for every matching id plus a FAISS search restricted
#: to them (an id selector) costs less than fetching more candidates.
SELECTOR_AT = 4096
#: A filter passing at most this many items is scored exactly over just those: reading 1,024
#: ids from SQL and their vectors from FAISS costs about what one over-fetch round does.
EXACT_AT = 1024
_SQL_CHUNK = 20_000  # ids per ``IN (...)``: below SQLite's 32,766 bound parameters


def check_min_score(min_score: float | None) -> None:
    """Raise ValueError unless ``min_score`` is None or a cosine similarity in [-1, 1]."""
    if min_score is not None and not -1.0 <= min_score <= 1.0:  # also refuses nan
        raise ValueError(f"min_score is a cosine similarity in [-1, 1], got {min_score}")


def filtered_search(
    vectors: VectorIndex,
    store: MetadataStore,
    query_emb: np.ndarray,
    k: int,
    *,
    filters: Filters | None = None,
    min_score: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` ids passing ``filters`` and scoring at least ``min_score``.

    A filter that passes at most ``EXACT_AT`` items (one SQL read, stopped there, finds out)
    is exact over just those. A broader one over-fetches candidates (``OVERFETCH`` per wanted
    hit, more when few pass) and checks them in SQL, so ``k`` hits come back whenever ``k``
    items pass, and ends in an exact search among every id that passes.

    Args:
        query_emb: ``(dim,)`` float32, unit length.

    Returns:
        ``(scores float32 (m,), ids int64 (m,))`` with ``m <= k``, by descending score.
    """
    check_min_score(min_score)
    n = len(vectors)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    query = query_emb[None, :]
    if not filters:
        scores, ids = vectors.search(
            query, k, exact=lambda found: store.vectors_by_id(found.tolist())
        )
        return _cut(scores[0], ids[0], k, min_score)
    few = matching_ids(store, filters, limit=EXACT_AT + 1)
    if len(few) <= EXACT_AT:
        return _cut(*_exact_among(vectors, store, query_emb, k, few), k, min_score)
    fetch = min(n, max(k * OVERFETCH, MIN_FETCH))
    while fetch <= SELECTOR_AT:
        scores, ids = (a[0] for a in vectors.search(query, fetch))
        found = ids >= 0
        passed = np.isin(ids, matching_ids(store, filters, ids[found])) & found
        above = passed if min_score is None else passed & (scores >= min_score)
        exhausted = fetch >= n or (min_score is not None and scores[found][-1] < min_score)
        if above.sum() >= k or exhausted:
            if vectors.kind == "ivfpq":  # lossy scores: rank what passed on the stored vectors
                return _cut(*_exact_among(vectors, store, query_emb, k, ids[passed]), k, min_score)
            return _cut(scores[passed], ids[passed], k, min_score)
        rate = max(int(passed.sum()), 1) / fetch
        fetch = int(min(n, max(fetch * OVERFETCH, 2 * k / rate)))
    allowed = matching_ids(store, filters)
    if vectors.kind == "flat":
        scores, ids = (a[0] for a in vectors.search_among(query, k, allowed))
        return _cut(scores, ids, k, min_score)
    return _cut(*_exact_among(vectors, store, query_emb, k, allowed), k, min_score)


def _exact_among(
    vectors: VectorIndex, store: MetadataStore, query_emb: np.ndarray, k: int, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` among ``allowed`` ids, scored on their exact vectors: the FAISS index's
    own, or for lossy codes (ivfpq) the stored ones."""
    if len(allowed) == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    exact = vectors.exact_vectors(allowed)
    if exact is not None:
        all_ids, all_scores = allowed, exact @ query_emb
    else:
        scores, ids = [], []
        for start in range(0, len(allowed), _SQL_CHUNK):
            found = store.vectors_by_id(int(i) for i in allowed[start : start + _SQL_CHUNK])
            chunk = np.fromiter(found, dtype=np.int64, count=len(found))
            if len(chunk):
                ids.append(chunk)
                scores.append(np.stack([found[int(i)] for i in chunk]) @ query_emb)
        if not ids:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        all_scores, all_ids = np.concatenate(scores), np.concatenate(ids)
    order = np.lexsort((all_ids, -all_scores))[:k]
    return all_scores[order].astype(np.float32), all_ids[order]


def scores_among(
    vectors: VectorIndex, store: MetadataStore, query_emb: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``(scores, ids)`` of ``query_emb`` against these ids (those without a vector are
    left out), by descending score."""
    return _exact_among(vectors, store, query_emb, len(ids), ids)


def _cut(
    scores: np.ndarray, ids: np.ndarray, k: int, min_score: float | None
) -> tuple[np.ndarray, np.ndarray]:
    keep = ids >= 0
    if min_score is not None:
        keep &= scores >= min_score
    return scores[keep][:k], ids[keep][:k]
