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
    EXACT_BYTES_MAX,
    FLAT_MAX,
    RETRAIN_GROWTH,
    TRAIN_MIN,
    VectorIndex,
    choose_kind,
)


def unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_choose_kind_by_size_unless_named():
    assert choose_kind(0) == "flat"
    assert choose_kind(FLAT_MAX - 1) == "flat"
    assert choose_kind(FLAT_MAX) == "ivf"
    assert choose_kind(1_000_000, dim=384) == "ivf"
    assert choose_kind(EXACT_BYTES_MAX // (384 * 4) + 1, dim=384) == "ivfpq"
    assert choose_kind(5, "hnsw") == "hnsw"
    assert choose_kind(TRAIN_MIN["ivf"] - 1, "ivf") == "flat"  # too few to train: exact
    assert choose_kind(TRAIN_MIN["ivf"], "ivf") == "ivf"
    with pytest.raises(ValueError, match="valid: auto, flat, ivf, hnsw, ivfpq"):
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


@pytest.mark.parametrize("kind", ["ivf", "hnsw", "ivfpq"])
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


@pytest.mark.parametrize(
    ("kind", "n"), [("flat", 50), ("ivf", 4000), ("hnsw", 50), ("ivfpq", 4000)]
)
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
    for kind in ("flat", "ivf", "hnsw"):
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
        st.tuples(
            st.sampled_from(["add", "remove", "save", "compact"]), st.lists(st.integers(0, 40))
        ),
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
        elif op == "compact":
            index = index.compacted(folder)
            assert kind == "hnsw" or index.delta_size == 0
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


def clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 fixed centres (``seed`` draws the points): neighbours that an IVF
    index can miss at a low nprobe."""
    centres = np.random.default_rng(0).standard_normal((50, dim))
    rng = np.random.default_rng(seed + 1)
    x = centres[rng.integers(0, 50, n)] + 0.9 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vecs: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argsort(-(queries @ vecs.T), axis=1)[:, :k]


@pytest.mark.parametrize("kind", ["ivf", "hnsw", "ivfpq"])
def test_a_built_index_is_tuned_to_the_target_recall_on_its_own_vectors(kind):
    vecs = clustered(12_000)
    index = VectorIndex.build(kind, 32, np.arange(12_000), vecs, target=0.95)
    tuned = index.tuning
    assert tuned is not None and tuned.recall >= 0.95 and tuned.trained_on == 12_000
    assert set(index.params) == {"ivf": {"nprobe"}, "hnsw": {"ef_search"}}.get(
        kind, {"nprobe", "rerank"}
    )
    # Held-out queries near the data reach about the recall the sample measured.
    queries = clustered(100, seed=9)
    truth = exact_top(vecs, queries)
    exact = {i: v for i, v in enumerate(vecs)}
    _, found = index.search(queries, 10, exact=lambda ids: {int(i): exact[int(i)] for i in ids})
    recall = np.mean([len(np.intersect1d(f, t)) / 10 for f, t in zip(found, truth, strict=True)])
    assert recall >= 0.9


def test_a_lower_target_buys_a_cheaper_setting_and_named_settings_are_measured():
    vecs = clustered(12_000)
    ids = np.arange(12_000)
    strict = VectorIndex.build("ivf", 32, ids, vecs, target=0.99)
    loose = VectorIndex.build("ivf", 32, ids, vecs, target=0.5)
    assert loose.params["nprobe"] < strict.params["nprobe"]
    named = VectorIndex.build("ivf", 32, ids, vecs, params={"nprobe": 1})
    assert named.params == {"nprobe": 1} and named.tuning.recall < strict.tuning.recall


def test_the_tuning_is_kept_through_save_and_load(tmp_path):
    vecs = clustered(4000)
    index = VectorIndex.build("ivf", 32, np.arange(4000), vecs)
    files = index.save(tmp_path)
    loaded = VectorIndex.load(
        tmp_path, files, "ivf", count=4000, dim=32, tuned=index.tuning.to_dict()
    )
    assert loaded.tuning == index.tuning and loaded.params == index.params
    assert loaded.base.nprobe == index.params["nprobe"]


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_compaction_folds_the_delta_in_without_retraining(tmp_path, kind):
    n = 12_000
    vecs = clustered(n)
    index = VectorIndex.build(kind, 32, np.arange(n), vecs)
    index.save(tmp_path)
    centroids_before = _centroids(index)
    index.remove(np.arange(0, 2000))
    moved = clustered(10, seed=5)
    index.add(np.arange(2000, 2010), moved)  # updates: their vectors move
    index.add(np.array([n + 1]), vecs[:1])  # a new id with 0's old vector
    compacted = index.compacted(tmp_path)
    assert compacted.delta_size == 0 and compacted.base_file is None
    assert len(compacted) == len(index) == n - 2000 + 1
    assert set(compacted.ids()) == set(index.ids())
    np.testing.assert_array_equal(_centroids(compacted), centroids_before)
    assert compacted.tuning == index.tuning
    _, found = compacted.search(np.vstack([vecs[:1], moved[:1]]), 10)
    assert not set(found.ravel()) & set(range(2000))
    assert n + 1 in found[0] and 2000 in found[1]
    files = compacted.save(tmp_path)  # the base is written again, the delta emptied
    assert files["base"] != index.base_file


def _centroids(index: VectorIndex) -> np.ndarray | None:
    if index.kind == "flat":
        return None
    import faiss

    quantizer = faiss.extract_index_ivf(index.base).quantizer
    return faiss.rev_swig_ptr(faiss.downcast_index(quantizer).get_xb(), quantizer.ntotal * 32)


def test_a_graph_takes_new_vectors_in_place_and_is_rebuilt_only_for_dead_nodes(tmp_path):
    vecs = clustered(6000)
    graph = VectorIndex.build("hnsw", 32, np.arange(5000), vecs[:5000])
    graph.save(tmp_path)
    graph.remove(np.arange(10))
    graph.add(np.array([20]), vecs[5000:5001])  # an update: a graph cannot replace node 20
    graph.add(np.arange(5001, 6000), vecs[5001:])  # new ids: added to the graph itself
    compacted = graph.compacted(tmp_path)
    assert compacted.base.ntotal == 5000 + 999 and compacted.delta.ntotal == 1
    assert set(compacted.ids()) == set(graph.ids())
    _, found = compacted.search(np.vstack([vecs[:1], vecs[5000:5001], vecs[5500:5501]]), 5)
    assert 0 not in found[0] and found[1][0] == 20 and found[2][0] == 5500
    assert not compacted.rebuild_due()
    compacted.remove(np.arange(DELTA_MIN + 1))
    assert compacted.rebuild_due()  # too many hidden nodes


def test_ivf_lists_sized_for_another_count_are_due_for_a_rebuild():
    lists = VectorIndex.build("ivf", 32, np.arange(4000), clustered(4000))
    assert not lists.rebuild_due()
    lists.add(np.arange(4000, 4000 * RETRAIN_GROWTH + 1), clustered(4000 * 3 + 1, seed=3))
    assert lists.rebuild_due()  # its lists were sized for a quarter of what it holds


def test_the_automatic_choice_replaces_an_ivf_index_that_must_scan_too_much_by_a_graph():
    ids = np.arange(5000)
    spread = unit(5000, 32)  # no clusters: neighbours lie in many lists
    assert VectorIndex.build_auto("ivf", 32, ids, spread).kind == "hnsw"
    centres = unit(100, 32, seed=4)
    tight = centres[np.arange(5000) % 100] + 0.02 * unit(5000, 32, seed=5)
    tight /= np.linalg.norm(tight, axis=1, keepdims=True)
    assert VectorIndex.build_auto("ivf", 32, ids, tight).kind == "ivf"
    fixed = VectorIndex.build_auto("ivf", 32, ids, spread, params=lambda kind: {"nprobe": 2})
    assert (fixed.kind, fixed.params) == ("ivf", {"nprobe": 2})  # named settings are kept
