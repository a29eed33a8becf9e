"""Similar items and near-duplicate groups, from the stored vectors (nothing is re-encoded).

Duplicates are pairs whose cosine similarity is at least a threshold (every pair compared up to
``EXACT_MAX`` items; above, only items that share a FAISS k-means cell, which near-duplicates
do), joined into groups as connected components.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence

import faiss
import numpy as np

from vsearch.errors import VsearchError
from vsearch.hit import Hit
from vsearch.query.filters import Filters, as_filters
from vsearch.query.target import SearchTarget
from vsearch.store.models import STATUS_OK

EXACT_MAX = 10_000
CELLS_PER_ROW = 2
_CHUNK = 2048


def resolve_item(index: SearchTarget, path: str | os.PathLike[str]) -> int:
    """The id of the indexed item at ``path`` (relative to the root, or a file under it).

    Raises:
        VsearchError: the path is not an indexed item; the message says why.
    """
    catalog = index.catalog
    row = catalog.item_at(path)
    if row is None:
        raise VsearchError(
            f"{path} is not in the index at {catalog.folder}; run `vsearch ingest` to add it"
        )
    if row.status != STATUS_OK:
        raise VsearchError(f"{path} is in the index but has no vector ({row.status}: {row.error})")
    return row.id


def similar(
    index: SearchTarget,
    path: str | os.PathLike[str],
    *,
    k: int = 10,
    filters: Filters | Sequence[str] | None = None,
    min_score: float | None = None,
) -> list[Hit]:
    """The ``k`` items most similar to an indexed item, by its stored vector (itself excluded)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    item_id = resolve_item(index, path)
    query_emb = index.catalog.stored_vectors([item_id])[item_id]
    hits = index.search_vector(query_emb, k=k + 1, filters=as_filters(filters), min_score=min_score)
    return [h for h in hits if h.id != item_id][:k]


def similar_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs ``(i, j)``, ``i < j``, with ``vectors[i] @ vectors[j] >= threshold``.

    Up to ``EXACT_MAX`` rows every pair is compared (blocked matrix products). Above, FAISS
    k-means splits the rows into about ``2 sqrt(n)`` cells, each row joins its ``CELLS_PER_ROW``
    nearest cells, and only rows sharing a cell are compared: near-duplicates sit next to each
    other, so they share a cell, and the work drops from ``n^2`` to about ``n^1.5``.

    Args:
        vectors: ``(n, dim)`` float32, unit rows.
        threshold: cosine similarity.

    Returns:
        ``(i int64 (p,), j int64 (p,))``, each pair once.
    """
    n, dim = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= EXACT_MAX:
        return _pairs_within(vectors, np.arange(n), threshold)
    cells = int(2 * math.sqrt(n))
    kmeans = faiss.Kmeans(dim, cells, niter=6, spherical=True, seed=0)
    kmeans.train(vectors[np.random.default_rng(0).permutation(n)[: 40 * cells]])
    _, assigned = kmeans.index.search(vectors, CELLS_PER_ROW)
    rows = np.repeat(np.arange(n), CELLS_PER_ROW)
    order = np.argsort(assigned.ravel(), kind="stable")
    bounds = np.searchsorted(assigned.ravel()[order], np.arange(cells + 1))
    found = [
        _pairs_within(vectors, rows[order[lo:hi]], threshold)
        for lo, hi in itertools.pairwise(bounds)
        if hi - lo > 1
    ]
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = np.unique(np.concatenate([i * n + j for i, j in found]))  # a pair may share 2 cells
    return keys // n, keys % n


def _pairs_within(
    vectors: np.ndarray, members: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of ``members`` (ascending row numbers) at or above ``threshold``, in row blocks."""
    block = vectors[members]
    firsts, seconds = [], []
    for start in range(0, len(members), _CHUNK):
        sims = block[start : start + _CHUNK] @ block.T
        i, j = np.nonzero(sims >= threshold)
        i += start
        upper = members[j] > members[i]
        firsts.append(members[i[upper]])
        seconds.append(members[j[upper]])
    return np.concatenate(firsts).astype(np.int64), np.concatenate(seconds).astype(np.int64)


def components(n: int, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Connected-component labels of ``n`` nodes joined by edges ``(first[e], second[e])``.

    Returns:
        ``(n,)`` int64: each node's label is the smallest node of its component.
    """
    label = np.arange(n, dtype=np.int64)
    while True:
        low = np.minimum(label[first], label[second])
        new = label.copy()
        np.minimum.at(new, first, low)
        np.minimum.at(new, second, low)
        new = new[new]  # pointer jumping: follow each label to its own label
        if np.array_equal(new, label):
            return label
        label = new


def find_duplicates(
    index: SearchTarget,
    *,
    threshold: float = 0.95,
    filters: Filters | Sequence[str] | None = None,
) -> list[list[Hit]]:
    """Groups of near-duplicate items (cosine similarity >= ``threshold`` links two items).

    Returns:
        Groups, largest first. In each, the copy to keep leads (the most pixels, then the
        largest file, then the oldest, then the path), and every hit's score is its similarity
        to the leader (the leader's own is 1).
    """
    if not -1 <= threshold <= 1:
        raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
    ids, vectors = index.catalog.all_vectors(as_filters(filters))
    if not len(ids):
        return []
    first, second = similar_pairs(vectors, threshold)
    if not len(first):
        return []
    nodes = np.unique(np.concatenate([first, second]))
    label = components(len(nodes), np.searchsorted(nodes, first), np.searchsorted(nodes, second))
    groups = []
    for root in np.unique(label):
        members = nodes[label == root]
        facts = {h.id: h for h in index.catalog.hits(ids[members], np.zeros(len(members)))}
        members = np.array(sorted(members, key=lambda m: _keep_first(facts[int(ids[m])])))
        scores = vectors[members] @ vectors[members[0]]
        order = np.concatenate([[0], 1 + np.argsort(-scores[1:], kind="stable")])
        groups.append(index.catalog.hits(ids[members[order]], scores[order]))
    return sorted(groups, key=lambda g: (-len(g), g[0].path))


def _keep_first(hit: Hit) -> tuple[int, int, float, str]:
    """The copy to keep comes first: the most pixels, then the largest file, then the oldest
    (modification time), then the path; so "all but the first" never lists the original."""
    facts = hit.metadata
    pixels = (facts.get("width") or 0) * (facts.get("height") or 0)
    return (-pixels, -int(facts.get("size") or 0), float(facts.get("mtime") or 0.0), hit.path)
