"""Precision@1 / Recall@k on hand-made score lists, gold candidate first."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vsearch.eval.metrics import gold_rank, precision_at_1, recall_at_k


def test_gold_scoring_highest_ranks_first() -> None:
    assert gold_rank(np.array([0.9, 0.1, 0.5])) == 1


def test_gold_below_two_candidates_ranks_third() -> None:
    assert gold_rank(np.array([0.2, 0.3, 0.1, 0.25])) == 3


def test_a_tie_goes_to_the_gold_as_in_the_reference_and_against_it_when_strict() -> None:
    assert gold_rank(np.array([0.5, 0.5, 0.1])) == 1
    assert gold_rank(np.array([0.5, 0.1, 0.5, 0.5])) == 1
    assert gold_rank(np.array([0.5, 0.5, 0.1]), strict=True) == 2
    assert gold_rank(np.array([0.5, 0.1, 0.5, 0.5]), strict=True) == 3


def test_all_candidates_tied_shows_as_the_gap_between_the_two_rules() -> None:
    # A constant encoder scores P@1 = 1 under the reference's argmax, and 0 when strict.
    scores = np.full(1000, 0.7, dtype=np.float32)
    assert gold_rank(scores) == 1
    assert gold_rank(scores, strict=True) == 1000


def _reference_hit(scores: np.ndarray) -> bool:
    """The VLM2Vec v1.0 eval (``evaluation/eval_utils.get_pred``): correct when argmax is 0."""
    return int(np.argmax(scores)) == 0


@given(
    st.lists(st.sampled_from([-0.5, 0.0, 0.25, 0.5, 1.0]), min_size=1, max_size=30)
    | st.lists(st.floats(-1, 1), min_size=1, max_size=30)
)
def test_precision_at_1_equals_the_reference_formula(scores: list[float]) -> None:
    """Tie-heavy lists (five distinct values) and continuous ones."""
    arr = np.array(scores, dtype=np.float32)
    assert (gold_rank(arr) == 1) == _reference_hit(arr)
    many = np.stack([arr, arr[::-1].copy(), np.roll(arr, 1)])
    ranks = np.array([gold_rank(row) for row in many])
    assert precision_at_1(ranks) == np.mean([_reference_hit(row) for row in many])


def test_one_candidate_is_always_first() -> None:
    assert gold_rank(np.array([-1.0])) == 1


def test_nan_gold_score_ranks_last() -> None:
    assert gold_rank(np.array([np.nan, 0.1, 0.2])) == 3
    assert gold_rank(np.array([np.nan, 0.1, 0.2]), strict=True) == 3


def test_empty_or_2d_scores_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty 1-d"):
        gold_rank(np.array([]))
    with pytest.raises(ValueError, match="non-empty 1-d"):
        gold_rank(np.zeros((2, 2)))


def test_precision_and_recall_from_ranks() -> None:
    ranks = np.array([1, 2, 5, 6, 1])
    assert precision_at_1(ranks) == pytest.approx(2 / 5)
    assert recall_at_k(ranks, 5) == pytest.approx(4 / 5)
    assert recall_at_k(ranks, 1) == precision_at_1(ranks)
    assert precision_at_1(np.array([], dtype=int)) == 0.0


def test_k_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        recall_at_k(np.array([1]), 0)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=40), st.integers(1, 49))
def test_recall_never_decreases_as_k_grows(ranks: list[int], k: int) -> None:
    arr = np.array(ranks)
    assert recall_at_k(arr, k) <= recall_at_k(arr, k + 1)


@given(st.lists(st.sampled_from([-1.0, 0.0, 0.3, 1.0]), min_size=1, max_size=30))
def test_rank_matches_a_stable_sort_with_gold_placed_first_or_last_among_ties(
    scores: list[float],
) -> None:
    arr = np.array(scores)
    # Sort by descending score; among equal scores the gold (index 0) goes first (reference,
    # as a stable argsort of -scores puts it) or last (strict).
    first = sorted(range(len(arr)), key=lambda i: (-arr[i], i))
    last = sorted(range(len(arr)), key=lambda i: (-arr[i], i == 0))
    assert gold_rank(arr) == first.index(0) + 1
    assert gold_rank(arr, strict=True) == last.index(0) + 1
