from __future__ import annotations

import errno
import json

import faiss
import numpy as np
import pytest
from sqlalchemy import create_engine, text

from vsearch import (
    EncoderMismatch,
    IndexBusy,
    IndexNotFound,
    SchemaVersionError,
    StoreError,
    UnsupportedInput,
    VsearchError,
    atomic,
)
from vsearch.index import FAISS_NAME, Index

from .conftest import HashEncoder, write_image


@pytest.fixture
def built(tmp_path, photo_dir, hash_encoder, store_url):
    """An index of ``photo_dir``, on SQLite and on PostgreSQL."""
    with Index.create(tmp_path / "idx", encoder=hash_encoder, store_url=store_url) as idx:
        idx.ingest(photo_dir)
    return tmp_path / "idx"


@pytest.fixture
def built_sqlite(tmp_path, photo_dir, hash_encoder):
    """An index of ``photo_dir`` in its own SQLite file (for tests that open that file)."""
    with Index.create(tmp_path / "idx", encoder=hash_encoder) as idx:
        idx.ingest(photo_dir)
    return tmp_path / "idx"


def test_open_missing_index_says_how_to_create_one(tmp_path):
    with pytest.raises(IndexNotFound, match="vsearch ingest DIR --index"):
        Index.open(tmp_path / "nothing")


def test_different_encoder_is_refused_with_a_reindex_hint(built):
    with pytest.raises(EncoderMismatch, match=r"dim 16.*dim 32.*--reindex"):
        Index.open(built, encoder=HashEncoder(dim=32))
    with pytest.raises(EncoderMismatch, match="revision 2"):
        Index.open(built, encoder=HashEncoder(revision="2"))


def test_reindex_reembeds_everything_with_the_new_encoder(built):
    new = HashEncoder(dim=32, revision="2")
    with Index.open(built, encoder=new, reindex=True) as idx:
        assert idx.info()["pending"] == 7
        report = idx.ingest()
        assert (report.updated, report.encoded) == (7, 7)
        assert idx.vectors.dim == 32 and len(idx.vectors) == 7
    with Index.open(built, encoder=HashEncoder(dim=32, revision="2")) as idx:
        assert idx.ingest().encoded == 0
    assert json.loads((built / "vsearch.json").read_text())["encoder"]["dim"] == 32


def test_interrupted_reindex_resumes(built):
    with Index.open(built, encoder=HashEncoder(dim=8), reindex=True):
        pass  # killed before ingest: vectors gone, items pending
    with Index.open(built, encoder=HashEncoder(dim=8)) as idx:
        assert len(idx) == 0
        assert idx.ingest().encoded == 7
        assert len(idx) == 7


def test_newer_schema_is_refused(built):
    manifest = json.loads((built / "vsearch.json").read_text())
    manifest["schema_version"] = 99
    (built / "vsearch.json").write_text(json.dumps(manifest))
    with pytest.raises(SchemaVersionError, match=r"schema version 99.*upgrade vsearch"):
        Index.open(built)


def test_newer_schema_in_the_store_is_refused(built_sqlite):
    built = built_sqlite
    engine = create_engine(f"sqlite:///{built / 'metadata.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE meta SET value = '7' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="schema version 7"):
        Index.open(built)


def test_search_matches_brute_force(built, photo_dir):
    with Index.open(built, encoder=HashEncoder()) as idx:
        ids, vecs = next(idx.store.iter_vectors())
        query = vecs[2] + 0.3 * vecs[4]
        query /= np.linalg.norm(query)
        hits = idx.search_vector(query, k=7)
        expected = vecs @ query
        assert [h.id for h in hits] == ids[np.argsort(-expected, kind="stable")].tolist()
        np.testing.assert_allclose([h.score for h in hits], np.sort(expected)[::-1], rtol=1e-5)


def test_search_by_text_and_image(built, photo_dir):
    with Index.open(built, encoder=HashEncoder()) as idx:
        hit = idx.search(image=photo_dir / "img3.png", k=1)[0]
        assert hit.path == "img3.png" and hit.score == pytest.approx(1.0)
        assert hit.abspath == (photo_dir / "img3.png").resolve()
        assert hit.metadata["width"] == 48
        note = idx.search(text="Shopping list: apples, coffee, bread.", k=1)[0]
        assert note.kind == "text" and note.metadata["text"].startswith("Shopping")
        assert len(idx.search("anything", k=100)) == 7


def test_search_rejects_bad_arguments(built, tmp_path):
    with Index.open(built, encoder=HashEncoder()) as idx:
        with pytest.raises(ValueError, match="text, an image"):
            idx.search()
        with pytest.raises(ValueError, match="k must be"):
            idx.search("x", k=0)
        with pytest.raises(UnsupportedInput, match="does not exist"):
            idx.search(image=tmp_path / "nope.jpg")
        (tmp_path / "bad.jpg").write_bytes(b"nope")
        with pytest.raises(UnsupportedInput, match=r"bad\.jpg: not a recognised image"):
            idx.search(image=tmp_path / "bad.jpg")


def test_empty_index_returns_no_hits(tmp_path, store_url):
    with Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=store_url) as idx:
        assert idx.search("x") == []
        assert len(idx) == 0


def test_remove_forgets_items(built, photo_dir):
    with Index.open(built, encoder=HashEncoder()) as idx:
        assert idx.remove(["img0.jpg", str(photo_dir / "sub" / "img5.png"), "nope.jpg"]) == 2
        assert len(idx) == 5 and len(idx.vectors) == 5
    with Index.open(built, encoder=HashEncoder()) as idx:
        assert len(idx.vectors) == 5


def test_a_folder_inside_or_around_one_held_is_refused(built, photo_dir):
    """Issue 15: another folder is added to the index (tests/test_folders.py); one that overlaps
    a folder it holds would index the same files twice."""
    with Index.open(built, encoder=HashEncoder()) as idx:
        for overlapping in (photo_dir / "sub", photo_dir.parent):
            with pytest.raises(VsearchError, match="overlaps"):
                idx.ingest(overlapping)
        assert [f.path for f in idx.folders()] == [photo_dir.resolve()]


def test_stale_faiss_file_is_rebuilt_from_the_store(built):
    with Index.open(built, encoder=HashEncoder()) as idx:
        idx.store.set_meta("generation", 12345)  # as if killed after a commit, before the save
    (built / FAISS_NAME).write_bytes(b"garbage that must not be read")
    with Index.open(built, encoder=HashEncoder()) as idx:
        assert len(idx.vectors) == 7
        assert (built / FAISS_NAME).read_bytes().startswith(b"garbage")  # a reader never saves
        idx.ingest()
    assert faiss.read_index(str(built / FAISS_NAME)).ntotal == 7


def test_missing_faiss_file_is_rebuilt(built):
    (built / FAISS_NAME).unlink()
    with Index.open(built, encoder=HashEncoder()) as idx:
        assert len(idx.search("x", k=3)) == 3


def test_failed_save_leaves_the_previous_file_whole(built, photo_dir, monkeypatch):
    before = (built / FAISS_NAME).read_bytes()

    def full_disk(fd):  # the temporary file is written; making it durable fails
        raise OSError(errno.ENOSPC, "No space left on device")

    write_image(photo_dir / "new.png", seed=77, fmt="PNG")
    with (
        monkeypatch.context() as patched,
        Index.open(built, encoder=HashEncoder()) as idx,
        pytest.raises(StoreError, match=r"cannot write .*the disk is full.*the store is intact"),
    ):
        patched.setattr(atomic.os, "fsync", full_disk)
        idx.ingest()
    assert (built / FAISS_NAME).read_bytes() == before
    assert [p.name for p in built.iterdir() if p.name.endswith(".tmp")] == []
    with Index.open(built, encoder=HashEncoder()) as idx:  # the store has the new item: rebuilt
        assert len(idx.vectors) == 8


def test_index_records_encoder_and_versions(built):
    manifest = json.loads((built / "vsearch.json").read_text())
    assert manifest["encoder"] == HashEncoder().identity.to_dict()
    assert manifest["metric"] == "inner_product"
    assert "faiss-cpu" in manifest["libraries"]
    with Index.open(built) as idx:  # loads test-hash from the registry by its recorded id
        assert idx.encoder.identity == HashEncoder().identity
        assert len(idx.search(text="x", k=3)) == 3


def test_hnsw_index_handles_removals_without_a_rebuild(tmp_path, photo_dir, store_url):
    with Index.create(
        tmp_path / "idx", encoder=HashEncoder(), index_kind="hnsw", store_url=store_url
    ) as idx:
        idx.ingest(photo_dir)
        assert idx.vectors.kind == "hnsw"
        base = idx.vectors.base
        (photo_dir / "img1.jpg").unlink()
        idx.ingest()
        assert len(idx.vectors) == 6 and idx.vectors.base is base  # hidden, not rebuilt
        assert "img1.jpg" not in {h.path for h in idx.search("x", k=10)}
    with Index.open(tmp_path / "idx", encoder=HashEncoder(), store_url=store_url) as idx:
        assert len(idx.vectors) == 6
        assert "img1.jpg" not in {h.path for h in idx.search("x", k=10)}


def test_a_second_concurrent_ingest_is_refused(built):
    from filelock import FileLock

    with (
        FileLock(built / "ingest.lock", thread_local=False),  # as another process's ingest holds it
        Index.open(built, encoder=HashEncoder()) as idx,
        pytest.raises(IndexBusy, match="another process is writing to the index"),
    ):
        idx.ingest()
    with Index.open(built, encoder=HashEncoder()) as idx:
        assert idx.ingest().unchanged == 7


def test_any_sqlalchemy_url_can_hold_the_metadata(tmp_path, photo_dir):
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=url) as idx:
        idx.ingest(photo_dir)
    assert (tmp_path / "elsewhere.db").exists()
    assert not (tmp_path / "idx" / "metadata.sqlite").exists()
    with Index.open(tmp_path / "idx", encoder=HashEncoder()) as idx:
        assert len(idx) == 7 and idx.info()["store"] == url


def test_the_document_instructions_are_recorded(built):
    with Index.open(built) as idx:
        assert idx.store.get_meta("instructions") == {
            "image": "Represent the given image.",
            "text": None,
        }


def test_the_package_exports_the_public_api():
    import vsearch

    assert vsearch.Index is Index
    assert {"Index", "Hit", "Encoder", "load_encoder", "VsearchError"} <= set(vsearch.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        vsearch.Nope  # noqa: B018


def test_home_relative_paths_are_expanded(tmp_path, photo_dir, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with Index.open_or_create("~/idx", encoder=HashEncoder()) as idx:
        assert idx.ingest("~/photos").added == 7
    assert (tmp_path / "idx" / "vsearch.json").exists()
