"""MMEB's metrics: Precision@1 (the paper's number) and Recall@k, gold candidate first.

Ties count against the gold candidate: its rank is one plus the number of other candidates
that score **at least** as high. The reference code takes ``argmax`` over the scores, which
breaks a tie in favour of index 0, the gold; that would give an encoder that maps everything to
one vector a perfect score. Ties are rare for real encoders (they need two candidates with
identical embeddings), so the two rules agree on the paper's numbers up to such duplicates.
"""

from __future__ import annotations

import numpy as np


def gold_rank(scores: np.ndarray) -> int:
    """1-based rank of candidate 0 among ``scores``, ties counted against it.

    Args:
        scores: ``(n_candidates,)`` float, the query's score for each candidate, gold first.

    Returns:
        An int in ``[1, n_candidates]``; a NaN gold score ranks last.

    Raises:
        ValueError: ``scores`` is empty or not one-dimensional.
    """
    scores = np.asarray(scores)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 1-d array, got shape {scores.shape}")
    if not np.isfinite(scores[0]):
        return int(scores.size)
    return 1 + int(np.count_nonzero(scores[1:] >= scores[0]))


def precision_at_1(ranks: np.ndarray) -> float:
    """Fraction of queries whose gold candidate ranks first. ``ranks``: ``(n,)`` int, 1-based."""
    return hit_rate(ranks, 1)


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Fraction of queries whose gold candidate is within the top ``k``.

    With one relevant candidate per query, Recall@k is the hit rate at k.
    """
    return hit_rate(ranks, k)


def hit_rate(ranks: np.ndarray, k: int) -> float:
    """Mean of ``ranks <= k``; 0.0 for no queries. Raises ValueError for ``k < 1``."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ranks = np.asarray(ranks)
    if ranks.size == 0:
        return 0.0
    return float(np.mean(ranks <= k))
