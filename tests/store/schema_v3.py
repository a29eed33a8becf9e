"""Turn an index written by this vsearch into the shape schema 3 wrote (no full-text index, no
``text_source`` or ``boxes`` columns), so the upgrade to 4 is tested on the tables an older
vsearch left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

_SQLITE = (
    "DROP TRIGGER items_fts_insert",
    "DROP TRIGGER items_fts_delete",
    "DROP TRIGGER items_fts_update",
    "DROP TABLE items_fts",
    "ALTER TABLE items DROP COLUMN text_source",
    "ALTER TABLE items DROP COLUMN boxes",
)
_POSTGRES = (
    "DROP INDEX {s}.ix_items_text_fts",
    "ALTER TABLE {s}.items DROP COLUMN text_source",
    "ALTER TABLE {s}.items DROP COLUMN boxes",
)


def downgrade_tables_to_v3(store: Any, session: Any) -> None:
    """The tables of ``store`` as schema 3 made them, in ``session``'s transaction."""
    for statement in _SQLITE if store.dialect == "sqlite" else _POSTGRES:
        session.execute(text(statement.format(s=f'"{store.namespace}"')))
    store.set_meta("schema_version", 3, session)


def downgrade_to_v3(folder: Path) -> None:
    """The index at ``folder`` as schema 3 stored it."""
    from vsearch.index import Index

    with Index.open(folder) as idx, idx.store.transaction() as session:
        downgrade_tables_to_v3(idx.store, session)
    manifest = (folder / "vsearch.json").read_text()
    (folder / "vsearch.json").write_text(
        manifest.replace('"schema_version": 4', '"schema_version": 3')
    )
