"""Turn an index written by this vsearch into the shape schema 2 wrote (one root, paths unique
across the index), so the upgrade is tested on the tables an older vsearch left behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from vsearch.index import Index

from .schema_v3 import downgrade_tables_to_v3

_ITEM_COLUMNS = (
    "id, path, kind, size, mtime_ns, content_hash, status, error, width, height, taken_at, "
    "camera_make, camera_model, gps_lat, gps_lon, exif, text, indexed_at"
)
_SQLITE = (
    """CREATE TABLE items_v2 (
        id INTEGER NOT NULL, path VARCHAR NOT NULL, kind VARCHAR(8) NOT NULL,
        size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL, content_hash VARCHAR(64),
        status VARCHAR(8) NOT NULL, error TEXT, width INTEGER, height INTEGER, taken_at DATETIME,
        camera_make VARCHAR, camera_model VARCHAR, gps_lat FLOAT, gps_lon FLOAT, exif JSON,
        text TEXT, indexed_at DATETIME NOT NULL, PRIMARY KEY (id), UNIQUE (path))""",
    """CREATE TABLE vectors_v2 (
        item_id INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (item_id),
        FOREIGN KEY(item_id) REFERENCES items_v2 (id) ON DELETE CASCADE)""",
    f"INSERT INTO items_v2 SELECT {_ITEM_COLUMNS} FROM items",
    "INSERT INTO vectors_v2 SELECT item_id, vector FROM vectors",
    "DROP TABLE vectors",
    "DROP TABLE items",
    "DROP TABLE folders",
    "ALTER TABLE items_v2 RENAME TO items",
    "ALTER TABLE vectors_v2 RENAME TO vectors",
    "CREATE INDEX ix_items_status ON items (status)",
    "CREATE INDEX ix_items_content_hash ON items (content_hash)",
)
_POSTGRES = (
    "ALTER TABLE {s}.items DROP CONSTRAINT uq_items_folder_path",
    "ALTER TABLE {s}.items DROP COLUMN folder_id",
    "ALTER TABLE {s}.items ADD UNIQUE (path)",
    "DROP TABLE {s}.folders",
)


def downgrade_to_v2(folder: Path, also: Callable[[Any, Any], None] | None = None) -> None:
    """The index at ``folder`` (one folder, ingested) as schema 2 stored it; ``also(store,
    session)`` changes more in the same transaction (to make an older schema)."""
    with Index.open(folder) as idx:
        (only,) = idx.store.folders()
        store = idx.store
        with store.transaction() as session:
            downgrade_tables_to_v3(store, session)
            store.set_meta("root", only.path, session)
            store.set_meta("schema_version", 2, session)
            for statement in _SQLITE if store.dialect == "sqlite" else _POSTGRES:
                session.execute(text(statement.format(s=f'"{store.namespace}"')))
            if also is not None:
                also(store, session)
    manifest = (folder / "vsearch.json").read_text()
    (folder / "vsearch.json").write_text(
        manifest.replace('"schema_version": 4', '"schema_version": 2')
    )
