"""``Changes.index_files`` writes many files in a few statements, with the rows, vectors and
vector delta that one ``index_file`` per file writes; on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np

from vsearch.encoders.base import EncoderIdentity
from vsearch.store.catalog import Catalog
from vsearch.store.changes import FileFacts, IndexedFile
from vsearch.store.models import STATUS_FAILED, STATUS_OK

DIM = 8


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def test_one_call_writes_new_updated_failed_and_vanished_rows(tmp_path, store_url):
    identity = EncoderIdentity("test", "1", DIM, "mean")
    catalog = Catalog.create(tmp_path / "idx", identity=identity, facts={}, store_url=store_url)
    (tmp_path / "photos").mkdir()

    def facts(folder_id: int, name: str) -> FileFacts:
        return FileFacts(folder_id, name, "image", 10, 20)

    with catalog.writing() as writer:
        folder = writer.add_folder(tmp_path / "photos")
        with writer.batch() as changes:
            (kept, _), (gone, _) = changes.index_files(
                [
                    IndexedFile(None, facts(folder.id, "kept.jpg"), "h1", {"width": 3}, vec(1)),
                    IndexedFile(None, facts(folder.id, "gone.jpg"), "h2", {}, vec(2)),
                ]
            )
            changes.record_failure(None, facts(folder.id, "bad.jpg"), "broken")
        bad = catalog.store.item_by_path("bad.jpg").id
        with writer.batch() as changes:
            changes.delete([gone])
        with writer.batch() as changes:
            written = changes.index_files(
                [
                    IndexedFile(kept, facts(folder.id, "kept.jpg"), "h3", {"height": 4}, vec(3)),
                    IndexedFile(bad, facts(folder.id, "bad.jpg"), "h4", {"width": 5}, vec(4)),
                    IndexedFile(gone, facts(folder.id, "gone.jpg"), "h5", {}, vec(5)),
                    IndexedFile(None, facts(folder.id, "new.jpg"), "h6", {"width": 6}, vec(6)),
                ]
            )
            delta = changes.delta
        ids = [item_id for item_id, _ in written]
        assert [before for _, before in written] == [STATUS_OK, STATUS_FAILED, None, None]
        assert ids[:2] == [kept, bad] and gone not in ids and len(set(ids)) == 4
        assert delta.dropped == {kept} and set(delta.added) == set(ids)

    rows = {r.path: r for r in catalog.store.all_items()}
    assert set(rows) == {"kept.jpg", "bad.jpg", "gone.jpg", "new.jpg"}
    assert {r.status for r in rows.values()} == {STATUS_OK}
    assert (rows["kept.jpg"].content_hash, rows["kept.jpg"].width) == ("h3", None)
    assert rows["kept.jpg"].height == 4 and rows["bad.jpg"].error is None
    stored = catalog.stored_vectors(ids)
    for item_id, seed in zip(ids, [3, 4, 5, 6], strict=True):
        np.testing.assert_array_equal(stored[item_id], vec(seed))
    assert sorted(catalog.vectors().ids().tolist()) == sorted(ids)
    catalog.close()
