"""The catalog keeps store rows, stored vectors, the FAISS file and the manifest consistent:
across long-lived handles, threads, copies of a folder, schema upgrades, and on PostgreSQL."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from vsearch import IndexBusy, IndexClosed, StoreError
from vsearch.index import FAISS_NAME, Index
from vsearch.store.catalog import STAMP_NAME
from vsearch.store.models import SCHEMA_VERSION
from vsearch.store.vectors import DELTA_MIN, DELTA_NAME

from ..conftest import HashEncoder, write_image
from .schema_v2 import downgrade_to_v2


def faiss_ids(idx: Index) -> set[int]:
    return {int(i) for i in idx.vectors.ids()}


def assert_consistent(folder, files: set[str] | None = None) -> None:
    """A fresh open: indexed rows = stored vectors = FAISS ids (= ``files``), each item found by
    its own vector."""
    with Index.open(folder, encoder=HashEncoder()) as idx:
        rows = {r.id: r.path for r in idx.store.all_items() if r.status == "ok"}
        ids, vectors = idx.catalog.all_vectors()
        assert set(rows) == set(ids.tolist()) == faiss_ids(idx)
        if files is not None:
            assert set(rows.values()) == files
        for item_id, vector in zip(ids, vectors, strict=True):
            hits = idx.search_vector(vector, k=3)
            assert item_id in [h.id for h in hits if h.score > 0.999], rows[int(item_id)]


def images(root, names, seed=0):
    for i, name in enumerate(names):
        write_image(root / name, seed=seed + i, fmt="PNG")


def test_interleaved_ingests_and_removes_of_two_handles_stay_consistent(tmp_path, store_url):
    """The reported race: A ingests 3, B ingests 2 more, A 1 more; removes in between."""
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png", "b.png", "c.png"])
    a = Index.create(folder, encoder=HashEncoder(), store_url=store_url)
    b = Index.open(folder, encoder=HashEncoder())
    assert a.ingest(root).added == 3
    images(root, ["d.png", "e.png"], seed=10)
    assert b.ingest().added == 2
    images(root, ["f.png"], seed=20)
    assert a.ingest().added == 1
    assert len(a.vectors) == len(b.vectors) == 6
    assert b.remove(["a.png"]) == 1
    assert len(a.search("x", k=10)) == 5  # a's index followed b's remove
    assert a.remove(["b.png"]) == 1
    a.close()
    b.close()
    assert_consistent(folder, {"c.png", "d.png", "e.png", "f.png"})


def test_a_long_lived_handle_searches_what_another_handle_wrote(tmp_path, store_url):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png"])
    with (
        Index.create(folder, encoder=HashEncoder(), store_url=store_url) as writer,
        Index.open(folder, encoder=HashEncoder()) as reader,
    ):
        writer.ingest(root)
        assert [h.path for h in reader.search(image=root / "a.png", k=5)] == ["a.png"]
        images(root, ["b.png"], seed=5)
        writer.ingest()
        assert reader.search(image=root / "b.png", k=1)[0].path == "b.png"


def test_a_copy_of_the_folder_on_a_shared_database_never_searches_stale_vectors(
    tmp_path, store_url
):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png", "b.png"])
    with Index.create(folder, encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest(root)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    images(root, ["c.png"], seed=9)
    with Index.open(folder, encoder=HashEncoder()) as idx:
        idx.ingest()
    with Index.open(copy, encoder=HashEncoder()) as idx:
        if store_url is None:  # its own SQLite file: the copy is a snapshot, and consistent
            assert len(idx.search("x", k=10)) == 2
        else:  # one store: the copy's FAISS file is stale, so it is rebuilt from the store
            assert idx.search(image=root / "c.png", k=1)[0].path == "c.png"
    assert_consistent(copy)


def test_two_indexes_on_one_database_are_independent(tmp_path, pg_server, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    images(tmp_path / "one", ["a.png", "b.png"])
    images(tmp_path / "two", ["c.png"], seed=7)
    first = Index.create(tmp_path / "i1", encoder=HashEncoder(), store_url=pg_server.url())
    second = Index.create(tmp_path / "i2", encoder=HashEncoder(dim=8), store_url=pg_server.url())
    first.ingest(tmp_path / "one")
    second.ingest(tmp_path / "two")
    assert (len(first), len(second)) == (2, 1)
    assert first.identity.dim == 16 and second.identity.dim == 8
    assert first.info()["namespace"] != second.info()["namespace"]
    first.close()
    second.close()
    assert_consistent(tmp_path / "i1", {"a.png", "b.png"})


def test_a_store_that_holds_an_index_is_never_taken_over(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Index.create(tmp_path / "i1", encoder=HashEncoder(), store_url=url).close()
    with pytest.raises(StoreError, match="already holds a vsearch index"):
        Index.create(tmp_path / "i2", encoder=HashEncoder(dim=8), store_url=url)
    with Index.open(tmp_path / "i1") as idx:
        assert idx.identity.dim == 16


def test_the_password_is_never_written_or_shown(tmp_path, pg_server, monkeypatch):
    secret = pg_server.password
    url = pg_server.url()
    with Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=url) as idx:
        assert secret not in json.dumps(idx.info())
        assert "***" in idx.info()["store"]
    assert secret not in (tmp_path / "idx" / "vsearch.json").read_text()
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    with pytest.raises(StoreError) as failed:
        Index.open(tmp_path / "idx")
    assert "cannot open the metadata store" in str(failed.value)
    assert secret not in str(failed.value) and "\n" not in str(failed.value)
    with Index.open(tmp_path / "idx", store_url=url) as idx:  # the password given again
        assert len(idx) == 0
    monkeypatch.setenv("PGPASSWORD", secret)
    with Index.open(tmp_path / "idx") as idx:
        assert len(idx) == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+pg8000://u@127.0.0.1/db", "no database driver"),
        ("postgresql://u:pw@127.0.0.1:1/db", "cannot open the metadata store"),
        ("not a url", "not a database URL"),
    ],
)
def test_database_problems_are_one_line_errors(tmp_path, url, message):
    with pytest.raises(StoreError, match=message) as failed:
        Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=url)
    assert "\n" not in str(failed.value) and ":pw@" not in str(failed.value)


def test_a_wrong_password_is_one_line(tmp_path, pg_server):
    wrong = pg_server.url().replace(pg_server.password, "wrong")
    with pytest.raises(StoreError, match="password authentication failed") as failed:
        Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=wrong)
    assert "wrong" not in str(failed.value)


def test_a_writer_on_another_machine_is_refused(tmp_path, pg_server, monkeypatch):
    """The advisory lock is held in the database, where another machine's writer takes it."""
    from sqlalchemy import create_engine, text

    from vsearch.store.locks import advisory_key

    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    images(tmp_path / "photos", ["a.png"])
    idx = Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=pg_server.url())
    other = create_engine(pg_server.url().replace("postgresql://", "postgresql+psycopg://"))
    with other.connect() as conn:
        key = advisory_key(idx.info()["namespace"])
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        with pytest.raises(IndexBusy, match="another machine or process"):
            idx.ingest(tmp_path / "photos")
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    other.dispose()
    assert idx.ingest(tmp_path / "photos").added == 1
    idx.close()


def test_a_reader_never_saves_while_a_writer_holds_the_lock(tmp_path, store_url):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png", "b.png"])
    with Index.create(folder, encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest(root)
    (folder / STAMP_NAME).unlink()  # as if the last writer died before saving
    before = (folder / FAISS_NAME).stat().st_mtime_ns
    with Index.open(folder, encoder=HashEncoder()) as writer, writer.catalog.writing():
        with Index.open(folder, encoder=HashEncoder()) as reader:
            assert len(reader.search("x", k=5)) == 2  # rebuilt in memory
        assert (folder / FAISS_NAME).stat().st_mtime_ns == before
        assert not (folder / STAMP_NAME).exists()
    assert (folder / STAMP_NAME).exists()  # the writer saved on its way out


def test_a_damaged_file_is_rebuilt_in_memory_and_saved_by_the_next_writer(tmp_path, caplog):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png", "b.png", "c.png"])
    with Index.create(folder, encoder=HashEncoder()) as idx:
        idx.ingest(root)
    data = bytearray((folder / FAISS_NAME).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 32] = bytes(32)  # random damage in the middle
    (folder / FAISS_NAME).write_bytes(bytes(data))
    with Index.open(folder, encoder=HashEncoder()) as idx:
        hits = idx.search(image=root / "b.png", k=3)
        assert hits[0].path == "b.png" and all(h.score <= 1.0001 for h in hits)
        assert (folder / FAISS_NAME).read_bytes() == bytes(data)  # a reader never saves
        assert "was damaged" in caplog.text
        idx.ingest()
    assert (folder / FAISS_NAME).read_bytes() != bytes(data)
    assert_consistent(folder, {"a.png", "b.png", "c.png"})


def test_a_stamp_of_one_whole_file_loads_without_a_rebuild_and_is_restamped(tmp_path, caplog):
    """Indexes written before the delta file existed: vectors.json names one FAISS file by its
    sha256. They load as they are; the next writer writes the new stamp."""
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png", "b.png", "c.png"])
    with Index.create(folder, encoder=HashEncoder()) as idx:
        idx.ingest(root)
        idx.rebuild_vectors()  # one whole file, as every save wrote then
    stamp = json.loads((folder / STAMP_NAME).read_text())
    old = {k: v for k, v in stamp.items() if k != "files"}
    old["sha256"] = stamp["files"]["base"]["sha256"]
    (folder / STAMP_NAME).write_text(json.dumps(old))
    (folder / DELTA_NAME).unlink()
    with Index.open(folder, encoder=HashEncoder()) as idx:
        assert idx.search(image=root / "b.png", k=1)[0].path == "b.png"
        assert idx.vectors.base_file["sha256"] == old["sha256"]  # the file, not a rebuild
        idx.ingest()
    assert "damaged" not in caplog.text and "rebuilt" not in caplog.text
    assert json.loads((folder / STAMP_NAME).read_text())["files"]["base"] == {
        "sha256": old["sha256"],
        **{k: stamp["files"]["base"][k] for k in ("size", "mtime_ns")},
    }
    assert_consistent(folder, {"a.png", "b.png", "c.png"})


def test_ingesting_more_writes_the_delta_not_the_base(tmp_path):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png", "b.png", "c.png"])
    with Index.create(folder, encoder=HashEncoder()) as idx:
        idx.ingest(root)
    base = (folder / FAISS_NAME).stat().st_mtime_ns
    images(root, ["d.png"], seed=10)
    (root / "a.png").unlink()
    with Index.open(folder, encoder=HashEncoder()) as idx:
        report = idx.ingest()
        assert (report.added, report.removed) == (1, 1)
    assert (folder / FAISS_NAME).stat().st_mtime_ns == base
    assert_consistent(folder, {"b.png", "c.png", "d.png"})


def test_searches_in_threads_while_an_ingest_runs(tmp_path, store_url):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, [f"p{i:02d}.png" for i in range(40)])
    errors: list[BaseException] = []
    with Index.create(folder, encoder=HashEncoder(), store_url=store_url) as idx:
        done = threading.Event()

        def search_until_done() -> None:
            try:
                while not done.is_set():
                    hits = idx.search("anything", k=50)
                    assert len({h.id for h in hits}) == len(hits)
            except BaseException as exc:
                errors.append(exc)

        searchers = [threading.Thread(target=search_until_done) for _ in range(2)]
        for thread in searchers:
            thread.start()
        idx.ingest(root, batch_size=4)
        done.set()
        for thread in searchers:
            thread.join()
    assert errors == []
    assert_consistent(folder, {f"p{i:02d}.png" for i in range(40)})


def test_an_index_used_after_close_says_so(tmp_path):
    idx = Index.create(tmp_path / "idx", encoder=HashEncoder())
    idx.close()
    with pytest.raises(IndexClosed, match="is closed"):
        idx.search("x")
    with pytest.raises(IndexClosed):
        len(idx)


def test_a_wrong_size_query_vector_is_a_clear_error(tmp_path):
    with (
        Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx,
        pytest.raises(ValueError, match=r"shape \(16,\)"),
    ):
        idx.search_vector(np.zeros(3, np.float32))


def test_an_index_of_the_previous_schema_opens_without_re_encoding(tmp_path, store_url):
    """Schema 1 kept the FAISS stamp in the shared meta table and had no store identity."""
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png", "b.png"])
    with Index.create(folder, encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest(root)

    def as_v1(store, session):
        store.set_meta("schema_version", 1, session)
        store.set_meta("faiss_generation", store.generation(session), session)
        store.set_meta("faiss_kind", "flat", session)
        store.delete_meta("store_id", session)

    downgrade_to_v2(folder, also=as_v1)
    manifest = json.loads((folder / "vsearch.json").read_text())
    manifest["schema_version"] = 1
    (folder / "vsearch.json").write_text(json.dumps(manifest))
    (folder / STAMP_NAME).unlink()
    encoder = HashEncoder()
    with Index.open(folder, encoder=encoder) as idx:
        assert idx.store.get_meta("schema_version") == SCHEMA_VERSION
        assert idx.store.get_meta("faiss_generation") is None
        assert idx.store.get_meta("store_id")
        assert idx.search(image=root / "a.png", k=1)[0].path == "a.png"
        assert idx.ingest().encoded == 0 and encoder.calls == 1  # the query image only
    assert json.loads((folder / "vsearch.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert_consistent(folder, {"a.png", "b.png"})


def test_a_handle_whose_index_was_reindexed_elsewhere_refuses_to_write(tmp_path):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    images(root, ["a.png"])
    with Index.create(folder, encoder=HashEncoder(), store_url=None) as old:
        old.ingest(root)
        Index.open(folder, encoder=HashEncoder(dim=8), reindex=True).close()
        images(root, ["b.png"], seed=3)
        with pytest.raises(Exception, match="--reindex"):
            old.ingest()
    with Index.open(folder, encoder=HashEncoder(dim=8)) as new:
        assert new.ingest().encoded == 2
    with Index.open(folder, encoder=HashEncoder(dim=8)) as idx:
        assert len(idx.vectors) == 2 and idx.vectors.dim == 8


def test_the_cli_ingests_into_postgresql_and_never_shows_the_password(
    tmp_path, photo_dir, pg_server, monkeypatch
):
    from typer.testing import CliRunner

    from vsearch.cli import app

    monkeypatch.delenv("PGPASSWORD", raising=False)
    runner = CliRunner()
    index = str(tmp_path / "idx")
    url = pg_server.url()
    ingest = ["ingest", str(photo_dir), "--index", index, "--model", "test-hash", "--store", url]
    done = runner.invoke(app, ingest)
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("added 7,")
    monkeypatch.setenv("PGPASSWORD", pg_server.password)
    info = runner.invoke(app, ["info", "--index", index, "--json"])
    assert info.exit_code == 0 and pg_server.password not in info.stdout
    assert json.loads(info.stdout)["items"] == 7
    hits = runner.invoke(app, ["query", "anything", "--index", index, "-k", "3", "--json"])
    assert hits.exit_code == 0 and len(hits.stdout.splitlines()) == 3
    monkeypatch.setenv("PGPASSWORD", "wrong")
    failed = runner.invoke(app, ["info", "--index", index])
    assert failed.exit_code == 1
    assert failed.stderr.count("\n") == 1 and "password authentication failed" in failed.stderr


def test_a_faiss_file_from_another_index_is_never_searched(tmp_path):
    root = tmp_path / "photos"
    images(root, ["a.png", "b.png"])
    images(tmp_path / "other", ["x.png", "y.png", "z.png"], seed=50)
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        idx.ingest(root)
    with Index.create(tmp_path / "idx2", encoder=HashEncoder()) as idx:
        idx.ingest(tmp_path / "other")
    for name in (FAISS_NAME, STAMP_NAME):  # a valid file and its stamp, of the wrong index
        shutil.copy(tmp_path / "idx2" / name, tmp_path / "idx" / name)
    with Index.open(tmp_path / "idx", encoder=HashEncoder()) as idx:
        assert sorted(h.path for h in idx.search("q", k=10)) == ["a.png", "b.png"]
    assert_consistent(tmp_path / "idx", {"a.png", "b.png"})


def _shape(idx: Index) -> dict[str, object]:
    """What the tables look like: columns, unique constraints, indexes and foreign keys."""
    from sqlalchemy import inspect

    with idx.store.engine.connect() as conn:
        seen = inspect(conn)
        ns = idx.store.namespace
        return {
            table: (
                sorted(c["name"] for c in seen.get_columns(table, schema=ns)),
                sorted(tuple(u["column_names"]) for u in seen.get_unique_constraints(table, ns)),
                sorted(  # an expression index (PostgreSQL's text search) has a None column
                    (i["name"], tuple(map(str, i["column_names"])))
                    for i in seen.get_indexes(table, schema=ns)
                ),
                sorted(
                    (f["referred_table"], tuple(f["constrained_columns"]))
                    for f in seen.get_foreign_keys(table, schema=ns)
                ),
            )
            for table in ("folders", "items", "vectors", "meta")
        } | {"tables": sorted(seen.get_table_names(schema=ns))}


def test_a_schema_2_index_becomes_one_of_several_folders_without_re_encoding(tmp_path, store_url):
    """Schema 2 knew one root; its items become the first folder's, and more can be added."""
    root, other, folder = tmp_path / "photos", tmp_path / "phone", tmp_path / "idx"
    images(root, ["a.png", "b.png"])
    images(other, ["a.png"], seed=7)  # the same relative path in a second folder
    with Index.create(folder, encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest(root)
        ids = {r.path: r.id for r in idx.store.all_items()}
    downgrade_to_v2(folder)
    encoder = HashEncoder()
    with Index.open(folder, encoder=encoder) as idx:
        assert idx.store.get_meta("schema_version") == SCHEMA_VERSION
        assert idx.store.get_meta("root") is None
        assert [f.path for f in idx.folders()] == [root.resolve()]
        assert {r.path: r.id for r in idx.store.all_items()} == ids
        assert idx.ingest().encoded == 0 and encoder.calls == 0
        assert idx.ingest(other).added == 1
        assert [f.path for f in idx.folders()] == [root.resolve(), other.resolve()]
        hit = idx.search(image=other / "a.png", k=1)[0]
        assert hit.abspath == other.resolve() / "a.png"
        migrated = _shape(idx)
    with Index.create(tmp_path / "new", encoder=HashEncoder(), store_url=store_url) as new:
        assert _shape(new) == migrated
    assert_consistent(folder)


def _filled(folder, root, n: int, kind: str) -> Index:
    """An index of ``n`` rows with clustered unit vectors, written straight into the store."""
    from datetime import datetime

    from sqlalchemy import insert

    from vsearch.store.metadata import vector_to_bytes
    from vsearch.store.models import ItemRow, VectorRow

    encoder = HashEncoder()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, encoder.dim))
    vectors = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, encoder.dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    now = datetime.now()
    idx = Index.create(folder, encoder=encoder, index_kind=kind)
    with idx.catalog.writing() as writer:
        photos = writer.add_folder(root)
    rows = [
        {
            "id": i,
            "folder_id": photos.id,
            "path": f"p{i}.png",
            "kind": "image",
            "size": 1,
            "mtime_ns": 1,
            "status": "ok",
            "indexed_at": now,
        }
        for i in range(1, n + 1)
    ]
    vecs = [{"item_id": i, "vector": vector_to_bytes(vectors[i - 1])} for i in range(1, n + 1)]
    with idx.store.transaction() as session:
        session.execute(insert(ItemRow), rows)
        session.execute(insert(VectorRow), vecs)
        idx.store.bump_generation(session)
    idx.rebuild_vectors()
    return idx


def test_removing_items_from_an_ivf_index_compacts_it_in_place_without_retraining(tmp_path):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    root.mkdir()
    n = 6000
    with _filled(folder, root, n, "ivf") as idx:
        tuned = idx.vectors.tuning
        assert idx.info()["index_kind"] == "ivf" and tuned.recall >= 0.95
        base = (folder / FAISS_NAME).stat().st_mtime_ns
        with idx.catalog.writing() as writer:  # a few: only the delta is written
            writer.remove_items(range(1, 11))
        assert (folder / FAISS_NAME).stat().st_mtime_ns == base
        with idx.catalog.writing() as writer:  # past the delta's share
            writer.remove_items(range(11, DELTA_MIN + 100))
    assert (folder / FAISS_NAME).stat().st_mtime_ns != base
    stamp = json.loads((folder / STAMP_NAME).read_text())
    assert stamp["tuning"] == tuned.to_dict()  # the same lists: compacted, not retrained
    assert np.load(folder / DELTA_NAME)["ids"].size == 0
    assert_consistent(folder)
    with Index.open(folder, encoder=HashEncoder()) as idx:
        assert len(idx.vectors) == n - (DELTA_MIN + 99)
        assert idx.vectors.tuning == tuned


def test_tune_changes_the_kind_and_settings_and_they_stay_with_the_index(tmp_path):
    root, folder = tmp_path / "photos", tmp_path / "idx"
    root.mkdir()
    with _filled(folder, root, 3000, "auto") as idx:
        assert idx.info()["index_kind"] == "flat" and idx.info()["index_recall"] is None
        facts = idx.tune(kind="ivf", recall=0.99)
        assert facts["index_kind"] == "ivf" and facts["index_recall"] >= 0.99
        facts = idx.tune(params={"nprobe": 1})
        assert facts["index_params"] == {"nprobe": 1} and facts["index_recall"] < 0.99
        with pytest.raises(ValueError, match="positive integers named"):
            idx.tune(params={"nlist": 4})
    with Index.open(folder, encoder=HashEncoder()) as idx:  # kept: manifest and stamp
        assert idx.info()["index_params"] == {"nprobe": 1}
        facts = idx.tune(params={})
        assert facts["index_recall"] >= 0.99 and facts["index_params"] != {"nprobe": 1}
    assert_consistent(folder)
