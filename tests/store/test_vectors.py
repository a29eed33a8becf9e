from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsearch.store.vectors import FLAT_MAX, HNSW_MAX, VectorIndex, choose_kind


def unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_choose_kind_by_size_unless_named():
    assert choose_kind(0) == "flat"
    assert choose_kind(FLAT_MAX - 1) == "flat"
    assert choose_kind(FLAT_MAX) == "hnsw"
    assert choose_kind(HNSW_MAX) == "ivfpq"
    assert choose_kind(5, "hnsw") == "hnsw"
    with pytest.raises(ValueError, match="valid: auto, flat, hnsw, ivfpq"):
        choose_kind(5, "annoy")


def test_flat_search_equals_brute_force_with_ids():
    vecs = unit(500, 32)
    ids = np.arange(1000, 1500, dtype=np.int64)
    index = VectorIndex.build("flat", 32, ids, vecs)
    queries = unit(5, 32, seed=1)
    scores, found = index.search(queries, 10)
    expected = queries @ vecs.T
    for q in range(5):
        order = np.argsort(-expected[q])[:10]
        np.testing.assert_allclose(scores[q], expected[q][order], rtol=1e-5)
        assert set(found[q]) == set(ids[order])  # ties aside, same ids


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_approximate_kinds_find_exact_matches(kind):
    vecs = unit(4000, 32)
    ids = np.arange(4000, dtype=np.int64) * 3
    index = VectorIndex.build(kind, 32, ids, vecs)
    _, found = index.search(vecs[:50], 5)
    recall = np.mean([ids[i] in found[i] for i in range(50)])
    assert recall >= 0.9


def test_remove_and_save_load_round_trip(tmp_path):
    vecs = unit(50, 8)
    index = VectorIndex.build("flat", 8, np.arange(50), vecs)
    assert index.remove(np.array([3, 4]))
    digest = index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss", "flat", sha256=digest, count=48, dim=8)
    assert len(loaded) == 48
    _, found = loaded.search(vecs[3:4], 48)
    assert 3 not in found[0] and 4 not in found[0]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[: len(b) // 2], "checksum"),
        (lambda b: b[:100] + bytes(64) + b[164:], "checksum"),
        (lambda b: b"", "checksum"),
    ],
)
def test_a_damaged_or_foreign_file_is_refused_on_load(tmp_path, damage, reason):
    index = VectorIndex.build("flat", 8, np.arange(50), unit(50, 8))
    digest = index.save(tmp_path / "v.faiss")
    path = tmp_path / "v.faiss"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=reason):
        VectorIndex.load(path, "flat", sha256=digest, count=50, dim=8)


def test_a_file_of_another_size_or_dimension_is_refused(tmp_path):
    index = VectorIndex.build("flat", 8, np.arange(50), unit(50, 8))
    digest = index.save(tmp_path / "v.faiss")
    with pytest.raises(ValueError, match="expected 51 of dim 8"):
        VectorIndex.load(tmp_path / "v.faiss", "flat", sha256=digest, count=51, dim=8)
    with pytest.raises(ValueError, match="cannot read"):
        VectorIndex.load(tmp_path / "nope.faiss", "flat", sha256=digest, count=50, dim=8)


def test_hnsw_reports_that_it_cannot_remove():
    index = VectorIndex.build("hnsw", 8, np.arange(10), unit(10, 8))
    assert index.remove(np.array([1])) is False


def test_ivfpq_refuses_too_few_vectors_to_train():
    with pytest.raises(ValueError, match="needs at least"):
        VectorIndex.build("ivfpq", 8, np.arange(10), unit(10, 8))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 60), k=st.integers(1, 30), seed=st.integers(0, 1000))
def test_recall_at_k_never_decreases_as_k_grows(n, k, seed):
    vecs = unit(n, 16, seed)
    index = VectorIndex.build("flat", 16, np.arange(n), vecs)
    query = unit(1, 16, seed + 1)
    truth = set(np.argsort(-(vecs @ query[0]))[:3])
    hits = [len(truth & set(index.search(query, kk)[1][0])) for kk in (k, k + 1, k + 5)]
    assert hits == sorted(hits)
