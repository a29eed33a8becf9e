"""Stepwise schema upgrades of an existing index, so a schema change never forces a re-encode.

``STEPS[n]`` takes a store from version ``n`` to ``n + 1`` inside one transaction; opening an
older index runs every step it lacks, in order (rclip's ``ensure_version``, sqlite-utils'
migrations). A new schema version adds one step here and a test that opens the previous one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, inspect, text
from sqlalchemy.orm import Session

from vsearch.store.metadata import MetadataStore
from vsearch.store.models import SCHEMA_VERSION


def _v1_to_v2(store: MetadataStore, session: Session) -> None:
    """Version 2: the FAISS file's freshness stamp leaves the (possibly shared) store for a file
    beside each copy's ``vectors.faiss``, and the store gets an identity of its own."""
    if store.get_meta("store_id", session=session) is None:
        store.set_meta("store_id", uuid.uuid4().hex, session)
    for key in ("faiss_generation", "faiss_kind"):
        store.delete_meta(key, session)


#: The folders table as schema 3 made it (frozen here: later versions change it in their own step).
_V3 = MetaData()
_FOLDERS_V3 = Table(
    "folders",
    _V3,
    Column("id", Integer, primary_key=True),
    Column("path", String, nullable=False, unique=True),
    Column("excludes", JSON, nullable=False),
    Column("added_at", DateTime, nullable=False),
)

#: SQLite cannot change a table's constraints in place: ``items`` (and ``vectors``, whose
#: foreign key must follow it) are copied into tables of the new shape, which take the old names.
_SQLITE_V3 = (
    """CREATE TABLE items_v3 (
        id INTEGER NOT NULL, folder_id INTEGER NOT NULL, path VARCHAR NOT NULL,
        kind VARCHAR(8) NOT NULL, size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL,
        content_hash VARCHAR(64), status VARCHAR(8) NOT NULL, error TEXT, width INTEGER,
        height INTEGER, taken_at DATETIME, camera_make VARCHAR, camera_model VARCHAR,
        gps_lat FLOAT, gps_lon FLOAT, exif JSON, text TEXT, indexed_at DATETIME NOT NULL,
        PRIMARY KEY (id), CONSTRAINT uq_items_folder_path UNIQUE (path, folder_id),
        FOREIGN KEY(folder_id) REFERENCES folders (id))""",
    """CREATE TABLE vectors_v3 (
        item_id INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (item_id),
        FOREIGN KEY(item_id) REFERENCES items_v3 (id) ON DELETE CASCADE)""",
    """INSERT INTO items_v3 SELECT id, :folder, path, kind, size, mtime_ns, content_hash, status,
        error, width, height, taken_at, camera_make, camera_model, gps_lat, gps_lon, exif, text,
        indexed_at FROM items""",
    "INSERT INTO vectors_v3 SELECT item_id, vector FROM vectors",
    "DROP TABLE vectors",
    "DROP TABLE items",
    "ALTER TABLE items_v3 RENAME TO items",  # rewrites vectors_v3's foreign key to "items"
    "ALTER TABLE vectors_v3 RENAME TO vectors",
    "CREATE INDEX ix_items_status ON items (status)",
    "CREATE INDEX ix_items_content_hash ON items (content_hash)",
)


def _v2_to_v3(store: MetadataStore, session: Session) -> None:
    """Version 3: an index holds several folders. The one recorded root becomes folder 1 (its
    excludes were never recorded); every item belongs to a folder and is unique within it."""
    connection = session.connection()
    _FOLDERS_V3.create(connection)
    root = store.get_meta("root", session=session)
    has_items = session.execute(text(f"SELECT 1 FROM {_table(session, 'items')} LIMIT 1")).first()
    folder = 1
    if root is not None or has_items:
        row = {"id": folder, "path": root or ".", "excludes": [], "added_at": datetime.now()}
        session.execute(_FOLDERS_V3.insert().values(**row))
    store.delete_meta("root", session)
    if store.dialect == "sqlite":
        for statement in _SQLITE_V3:
            session.execute(text(statement), {"folder": folder})
        return
    items, folders = _table(session, "items"), _table(session, "folders")
    if root is not None or has_items:  # an explicit id leaves the serial's sequence behind
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{folders}', 'id'), 1)"))
    unique_path = next(
        c["name"]
        for c in inspect(connection).get_unique_constraints("items", schema=store.namespace)
        if c["column_names"] == ["path"]
    )
    for statement in (
        f"ALTER TABLE {items} ADD COLUMN folder_id INTEGER REFERENCES {folders} (id)",
        f"UPDATE {items} SET folder_id = {folder}",
        f"ALTER TABLE {items} ALTER COLUMN folder_id SET NOT NULL",
        f'ALTER TABLE {items} DROP CONSTRAINT "{unique_path}"',
        f"ALTER TABLE {items} ADD CONSTRAINT uq_items_folder_path UNIQUE (path, folder_id)",
    ):
        session.execute(text(statement))


#: Schema 4's full-text index of ``items.text`` (frozen copies of ``models.SQLITE_FTS_DDL`` and
#: ``models.PG_FTS_DDL``), filled from the rows already there.
_SQLITE_V4 = (
    """CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER items_fts_insert AFTER INSERT ON items WHEN new.text IS NOT NULL BEGIN
        INSERT INTO items_fts(rowid, text) VALUES (new.id, new.text); END""",
    """CREATE TRIGGER items_fts_delete AFTER DELETE ON items WHEN old.text IS NOT NULL BEGIN
        INSERT INTO items_fts(items_fts, rowid, text) VALUES ('delete', old.id, old.text); END""",
    """CREATE TRIGGER items_fts_update AFTER UPDATE OF text ON items BEGIN
        INSERT INTO items_fts(items_fts, rowid, text)
            SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
        INSERT INTO items_fts(rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL;
        END""",
    "INSERT INTO items_fts(items_fts) VALUES ('rebuild')",
)


def _v3_to_v4(store: MetadataStore, session: Session) -> None:
    """Version 4: the items' text is searchable by its words (a full-text index), and an item
    records where its text came from and, for recognised text, the words' boxes."""
    items = _table(session, "items")
    for statement in (
        f"ALTER TABLE {items} ADD COLUMN text_source VARCHAR(8)",
        f"ALTER TABLE {items} ADD COLUMN boxes JSON",
        f"UPDATE {items} SET text_source = 'file' WHERE text IS NOT NULL",
    ):
        session.execute(text(statement))
    if store.dialect == "sqlite":
        for statement in _SQLITE_V4:
            session.execute(text(statement))
        return
    session.execute(
        text(
            f"CREATE INDEX ix_items_text_fts ON {items} "
            "USING gin (to_tsvector('simple', coalesce(text, '')))"
        )
    )


def _table(session: Session, name: str) -> str:
    """``name`` qualified with the index's schema where it has one (raw SQL is not translated)."""
    schema = session.connection().get_execution_options().get("schema_translate_map", {}).get(None)
    quote = session.connection().dialect.identifier_preparer.quote
    return f"{quote(schema)}.{quote(name)}" if schema else quote(name)


STEPS: dict[int, Callable[[MetadataStore, Session], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
}


def upgrade(store: MetadataStore, found: int) -> list[int]:
    """Bring ``store`` from schema ``found`` to ``SCHEMA_VERSION``; returns the versions reached."""
    reached = []
    for version in range(found, SCHEMA_VERSION):
        with store.transaction() as session:
            STEPS[version](store, session)
            store.set_meta("schema_version", version + 1, session)
        reached.append(version + 1)
    return reached
