"""MMEB's metrics: Precision@1 (the paper's number) and Recall@k, gold candidate first.

Two tie rules:

- reference (the reported figure): a tie goes to the gold candidate, as in the VLM2Vec
  reference (v1.0 ``get_pred``: ``np.argmax`` over the scores returns the first maximum, and
  the gold is first). Its rank is one plus the number of candidates scoring **strictly** higher.
- strict (an extra column): a tie counts against the gold; its rank is one plus the number of
  candidates scoring **at least** as high. Under the reference rule an encoder that maps
  everything to one vector scores 100; under this one it scores 0, so a large gap between the
  two columns flags duplicate embeddings. Ties are rare for real encoders (they need two
  candidates with identical embeddings), so the two usually agree.
"""

from __future__ import annotations

import numpy as np


def gold_rank(scores: np.ndarray, *, strict: bool = False) -> int:
    """1-based rank of candidate 0 among ``scores``.

    Args:
        scores: ``(n_candidates,)`` float, the query's score for each candidate, gold first.
        strict: count ties against the gold (False: in its favour, as the reference does).

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
    others = scores[1:]
    beaten_by = others >= scores[0] if strict else others > scores[0]
    return 1 + int(np.count_nonzero(beaten_by))


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
