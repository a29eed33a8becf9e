"""Similar items and near-duplicate groups from stored vectors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vsearch.errors import VsearchError
from vsearch.index import Index
from vsearch.query import find_duplicates, similar
from vsearch.query.neighbours import components, similar_pairs

from ..conftest import HashEncoder


@pytest.fixture
def index(tmp_path, photo_dir):
    shutil.copy(photo_dir / "img0.jpg", photo_dir / "copy-of-img0.jpg")
    shutil.copy(photo_dir / "img0.jpg", photo_dir / "sub" / "again-img0.jpg")
    shutil.copy(photo_dir / "img3.png", photo_dir / "sub" / "img3-copy.png")
    enc = HashEncoder()
    idx = Index.create(tmp_path / "idx", encoder=enc)
    idx.ingest(photo_dir)
    yield idx
    idx.close()


def test_similar_uses_the_stored_vector_and_excludes_the_item(index, photo_dir):
    calls = index.encoder.calls
    hits = similar(index, "img3.png", k=3)
    assert index.encoder.calls == calls  # nothing re-encoded
    assert hits[0].path == "sub/img3-copy.png" and hits[0].score == pytest.approx(1.0)
    assert "img3.png" not in {h.path for h in hits} and len(hits) == 3
    ids, vecs = next(index.store.iter_vectors())
    query = vecs[ids.tolist().index(index.store.item_by_path("img3.png").id)]
    expected = [h for h in index.search_vector(query, k=4) if h.path != "img3.png"]
    assert hits == expected[:3]
    assert similar(index, photo_dir / "img3.png", k=3) == hits  # absolute path under the root
    in_sub = similar(index, "img3.png", k=5, filters=["folder=sub"])
    assert in_sub[0].path == "sub/img3-copy.png" and len(in_sub) == 4


def test_similar_unknown_path_is_one_clear_error(index, tmp_path):
    with pytest.raises(VsearchError, match=r"nope\.jpg is not in the index"):
        similar(index, "nope.jpg")
    (tmp_path / "outside.jpg").write_bytes(b"x")
    with pytest.raises(VsearchError, match="outside the indexed folder"):
        similar(index, tmp_path / "outside.jpg")


def test_dupes_groups_identical_files(index):
    groups = find_duplicates(index, threshold=0.99)
    assert [[h.path for h in g] for g in groups] == [  # identical copies: the oldest leads
        ["img0.jpg", "copy-of-img0.jpg", "sub/again-img0.jpg"],
        ["img3.png", "sub/img3-copy.png"],
    ]
    assert all(h.score == pytest.approx(1.0) for g in groups for h in g)
    only_sub = find_duplicates(index, threshold=0.99, filters=["folder=sub"])
    assert only_sub == []
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates(index, threshold=2)


def test_dupes_never_suggest_deleting_the_best_copy(tmp_path):
    """A small thumbnail sorts before its original by path; the original must still lead."""
    import os

    from PIL import Image

    from vsearch.cli import app

    root = tmp_path / "photos"
    root.mkdir()
    photo = Image.effect_noise((900, 600), 64).convert("RGB")
    photo.save(root / "zz-original.jpg", quality=95)
    photo.resize((225, 150)).save(root / "aa-thumbnail.jpg")
    photo.save(root / "mm-same-size.jpg", quality=60)  # as many pixels, a smaller file
    os.utime(root / "zz-original.jpg", (1, 1))
    index = tmp_path / "idx"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(root), "--index", str(index)]).exit_code == 0
    done = runner.invoke(app, ["dupes", "--index", str(index), "--threshold", "0.9", "--paths"])
    assert done.exit_code == 0, done.output
    assert sorted(Path(p).name for p in done.stdout.splitlines()) == [
        "aa-thumbnail.jpg",
        "mm-same-size.jpg",
    ]
    with Index.open(index) as idx:
        (group,) = find_duplicates(idx, threshold=0.9)
        assert group[0].path == "zz-original.jpg"


def test_similar_pairs_matches_brute_force_exact_and_ivf(monkeypatch):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3000, 32)).astype(np.float32)
    noisy = base[:300] + 0.05 * rng.standard_normal((300, 32)).astype(np.float32)
    vecs = np.concatenate([base, noisy])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    sims = vecs @ vecs.T
    i, j = np.nonzero(np.triu(sims >= 0.9, 1))
    expected = set(zip(i.tolist(), j.tolist(), strict=True))
    got = set(zip(*(a.tolist() for a in similar_pairs(vecs, 0.9)), strict=True))
    assert got == expected and len(expected) >= 300
    monkeypatch.setattr("vsearch.query.neighbours.EXACT_MAX", 100)  # force the IVF path
    approx = set(zip(*(a.tolist() for a in similar_pairs(vecs, 0.9)), strict=True))
    assert approx <= expected and len(approx) >= 0.98 * len(expected)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
        )
    )
)
def test_components_match_union_find(case):
    n, edges = case
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    first = np.array([a for a, _ in edges], dtype=np.int64)
    second = np.array([b for _, b in edges], dtype=np.int64)
    labels = components(n, first, second)
    assert labels.tolist() == [min(x for x in range(n) if find(x) == find(y)) for y in range(n)]
