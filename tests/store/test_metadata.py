from __future__ import annotations

from datetime import datetime

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vsearch.store.metadata import MetadataStore, vector_from_bytes, vector_to_bytes
from vsearch.store.models import FolderRow, ItemRow, VectorRow

floats32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(vector=arrays(np.float32, st.integers(1, 64), elements=floats32))
def test_vector_bytes_round_trip(vector):
    np.testing.assert_array_equal(vector_from_bytes(vector_to_bytes(vector)), vector)


@settings(max_examples=20, deadline=None)
@given(
    path=st.text(min_size=1, max_size=40).filter(lambda s: "\x00" not in s),
    text=st.one_of(st.none(), st.text(max_size=200)),
    exif=st.one_of(
        st.none(), st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5)
    ),
    vector=arrays(np.float32, 8, elements=floats32),
)
def test_item_and_vector_survive_a_store_round_trip(tmp_path_factory, path, text, exif, vector):
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'm.sqlite'}"
    store = MetadataStore(url)
    store.create({})
    when = datetime(2020, 1, 2, 3, 4, 5)
    with store.transaction() as session:
        folder = FolderRow(path="photos", excludes=[], added_at=when)
        session.add(folder)
        session.flush()
        row = ItemRow(
            folder_id=folder.id,
            path=path,
            kind="text",
            size=3,
            mtime_ns=2**62,
            text=text,
            exif=exif,
            indexed_at=when,
        )
        session.add(row)
        session.flush()
        session.add(VectorRow(item_id=row.id, vector=vector_to_bytes(vector)))
    store.close()
    store = MetadataStore(url)
    got = store.item_by_path(path)
    assert (got.text, got.exif, got.mtime_ns, got.indexed_at) == (text, exif, 2**62, when)
    np.testing.assert_array_equal(store.vectors_by_id([got.id])[got.id], vector)
    store.close()


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.sqlite'}")
    store.create({})
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_generation_bumps_in_the_same_transaction(tmp_path):
    store = MetadataStore(f"sqlite:///{tmp_path / 'm.sqlite'}")
    store.create({})
    with store.transaction() as session:
        assert store.bump_generation(session) == (0, 1)
    assert store.generation() == 1
