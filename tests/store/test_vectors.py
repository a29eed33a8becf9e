from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vsearch.store.vectors import (
    BASE_NAME,
    DELTA_MIN,
    DELTA_NAME,
    FLAT_MAX,
    HNSW_MAX,
    VectorIndex,
    choose_kind,
)


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


def _saved(index: VectorIndex, folder: Path) -> VectorIndex:
    files = index.save(folder)
    return VectorIndex.load(folder, files, index.kind, count=len(index), dim=index.dim)


@pytest.mark.parametrize(("kind", "n"), [("flat", 50), ("hnsw", 50), ("ivfpq", 4000)])
def test_removals_and_updates_survive_save_and_load(tmp_path, kind, n):
    vecs = unit(n, 8)
    index = VectorIndex.build(kind, 8, np.arange(n), vecs)
    index.remove(np.array([3, 4, 10_000]))  # an absent id is ignored
    changed = unit(1, 8, seed=7)
    index.add(np.array([5]), changed)  # an update: id 5 now has another vector
    index.add(np.array([n + 1]), vecs[3:4])  # a new id with 3's old vector
    for loaded in (index, _saved(index, tmp_path)):
        assert len(loaded) == n - 1
        assert set(loaded.ids()) == (set(range(n)) - {3, 4}) | {n + 1}
        _, found = loaded.search(vecs[3:4], 10)  # ivfpq's lossy scores may rank others first
        assert n + 1 in found[0] and 3 not in found[0]
        _, found = loaded.search(changed, 10)
        assert 5 in found[0]
        _, among = loaded.search_among(changed, 5, np.array([4, 5, 6]))
        assert among[0][0] == 5 and 4 not in among[0]


def test_a_save_rewrites_only_the_delta_while_the_base_is_on_disk(tmp_path):
    index = VectorIndex.build("flat", 8, np.arange(50), unit(50, 8))
    index.save(tmp_path)
    base = (tmp_path / BASE_NAME).stat()
    index.add(np.array([99]), unit(1, 8, seed=3))
    index.remove(np.array([0]))
    files = index.save(tmp_path)
    assert (tmp_path / BASE_NAME).stat().st_mtime_ns == base.st_mtime_ns
    loaded = VectorIndex.load(tmp_path, files, "flat", count=50, dim=8)
    assert loaded.base_file == files["base"] and loaded.delta_size == 2
    assert not loaded.compaction_due()
    loaded.save(tmp_path, base=True)  # a compacted save writes the base again
    assert (tmp_path / BASE_NAME).stat().st_mtime_ns != base.st_mtime_ns


def test_the_delta_is_due_for_compaction_past_its_share():
    n = 2 * DELTA_MIN
    index = VectorIndex.build("flat", 8, np.arange(n), unit(n, 8))
    index.remove(np.arange(DELTA_MIN))
    assert not index.compaction_due()
    index.add(np.array([n]), unit(1, 8))
    assert index.compaction_due()


def test_a_copied_base_is_checked_by_its_checksum_and_accepted(tmp_path):
    index = VectorIndex.build("flat", 8, np.arange(50), unit(50, 8))
    files = index.save(tmp_path)
    path = tmp_path / BASE_NAME
    path.write_bytes(path.read_bytes())  # same content, another modification time
    loaded = VectorIndex.load(tmp_path, files, "flat", count=50, dim=8)
    assert loaded.base_file["sha256"] == files["base"]["sha256"]
    assert loaded.base_file["mtime_ns"] == path.stat().st_mtime_ns


def test_exact_vectors_are_the_added_ones_except_for_lossy_codes():
    vecs = unit(4000, 8)
    for kind in ("flat", "hnsw"):
        index = VectorIndex.build(kind, 8, np.arange(4000), vecs)
        index.add(np.array([7]), vecs[:1])
        np.testing.assert_array_equal(index.exact_vectors(np.array([7, 9])), vecs[[0, 9]])
    assert VectorIndex.build("ivfpq", 8, np.arange(4000), vecs).exact_vectors([1]) is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[: len(b) // 2], "checksum"),
        (lambda b: b[:100] + bytes(64) + b[164:], "checksum"),
        (lambda b: b"", "checksum"),
    ],
)
@pytest.mark.parametrize("name", [BASE_NAME, DELTA_NAME])
def test_a_damaged_or_foreign_file_is_refused_on_load(tmp_path, damage, reason, name):
    index = VectorIndex.build("flat", 8, np.arange(50), unit(50, 8))
    files = index.save(tmp_path)
    path = tmp_path / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(ValueError, match=reason):
        VectorIndex.load(tmp_path, files, "flat", count=50, dim=8)


def test_a_file_of_another_size_or_dimension_is_refused(tmp_path):
    index = VectorIndex.build("flat", 8, np.arange(50), unit(50, 8))
    files = index.save(tmp_path)
    with pytest.raises(ValueError, match="expected 51 of dim 8"):
        VectorIndex.load(tmp_path, files, "flat", count=51, dim=8)
    with pytest.raises(ValueError, match="cannot read"):
        VectorIndex.load(tmp_path / "nope", files, "flat", count=50, dim=8)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(["flat", "hnsw"]),
    steps=st.lists(
        st.tuples(st.sampled_from(["add", "remove", "save"]), st.lists(st.integers(0, 40))),
        max_size=12,
    ),
    seed=st.integers(0, 1000),
)
def test_any_sequence_of_changes_searches_like_brute_force(tmp_path_factory, kind, steps, seed):
    """Adds (new ids and updates), removals and save/load cycles: every live id is found by its
    own vector, no removed id is ever returned, and the count is right."""
    folder = tmp_path_factory.mktemp("v")
    rng = np.random.default_rng(seed)
    model = {i: v for i, v in enumerate(unit(20, 16, seed))}
    index = VectorIndex.build(kind, 16, np.arange(20), np.stack(list(model.values())))
    for op, ids in steps:
        ids = sorted(set(ids))
        if op == "add" and ids:
            vecs = unit(len(ids), 16, int(rng.integers(1 << 30)))
            index.add(np.array(ids), vecs)
            model.update(zip(ids, vecs, strict=True))
        elif op == "remove":
            index.remove(np.array(ids, dtype=np.int64))
            for i in ids:
                model.pop(i, None)
        elif op == "save":
            index = _saved(index, folder)
    assert len(index) == len(model) and set(index.ids()) == set(model)
    if model:
        live = np.array(sorted(model))
        scores, found = index.search(np.stack([model[i] for i in live]), len(model))
        assert set(found.ravel()) - {-1} <= set(model)
        assert (found[:, 0] == live).mean() >= 0.95  # HNSW at this size is all but exact
        np.testing.assert_allclose(scores[found[:, 0] == live, 0], 1.0, atol=1e-5)


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
