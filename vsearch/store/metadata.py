"""The metadata store: SQLite (WAL) or any SQLAlchemy URL, the source of truth of an index."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from vsearch.errors import SchemaVersionError
from vsearch.store.models import (
    SCHEMA_VERSION,
    STATUS_OK,
    Base,
    ItemRow,
    MetaRow,
    VectorRow,
)

VECTOR_DTYPE = np.dtype("<f4")


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).tobytes()


def vector_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=VECTOR_DTYPE)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class MetadataStore:
    """Rows of items, their raw vectors and index facts, behind SQLAlchemy.

    Every change to vectors bumps ``generation`` in the same transaction, so the derived FAISS
    file can tell whether it is stale. The store does not know FAISS, files or encoders.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    # ---- lifecycle -------------------------------------------------------------------------

    def create(self, facts: dict[str, Any]) -> None:
        """Create the tables and record the index facts (schema version included)."""
        Base.metadata.create_all(self.engine)
        with self.transaction() as session:
            for key, value in {"schema_version": SCHEMA_VERSION, "generation": 0, **facts}.items():
                session.merge(MetaRow(key=key, value=value))

    def check_schema(self, where: str) -> None:
        """Raise SchemaVersionError when the index was written by a newer vsearch."""
        found = self.get_meta("schema_version")
        if found is None:
            raise SchemaVersionError(f"{where} has no schema version; it is not a vsearch index")
        if int(found) > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"index at {where} has schema version {found}, newer than this vsearch "
                f"understands ({SCHEMA_VERSION}); upgrade vsearch to open it"
            )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, or rolled back."""
        with self._sessions.begin() as session:
            yield session

    # ---- index facts -----------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self._sessions() as session:
            row = session.get(MetaRow, key)
            return default if row is None else row.value

    def set_meta(self, key: str, value: Any, session: Session | None = None) -> None:
        if session is not None:
            session.merge(MetaRow(key=key, value=value))
            return
        with self.transaction() as own:
            own.merge(MetaRow(key=key, value=value))

    def bump_generation(self, session: Session) -> int:
        row = session.get(MetaRow, "generation")
        value = (row.value if row else 0) + 1
        session.merge(MetaRow(key="generation", value=value))
        return value

    # ---- items -----------------------------------------------------------------------------

    def count(self, status: str | None = STATUS_OK) -> int:
        query = select(func.count()).select_from(ItemRow)
        if status is not None:
            query = query.where(ItemRow.status == status)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def all_items(self) -> list[ItemRow]:
        with self._sessions() as session:
            return list(session.scalars(select(ItemRow)))

    def items_by_id(self, ids: Iterable[int]) -> dict[int, ItemRow]:
        ids = list(ids)
        if not ids:
            return {}
        with self._sessions() as session:
            rows = session.scalars(select(ItemRow).where(ItemRow.id.in_(ids)))
            return {row.id: row for row in rows}

    def paths_by_id(self) -> dict[int, str]:
        """The path of every indexed item, by id (one query, however many items)."""
        with self._sessions() as session:
            rows = session.execute(
                select(ItemRow.id, ItemRow.path).where(ItemRow.status == STATUS_OK)
            )
            return {item_id: path for item_id, path in rows}

    def item_by_path(self, path: str) -> ItemRow | None:
        with self._sessions() as session:
            return session.scalar(select(ItemRow).where(ItemRow.path == path))

    def failed_items(self) -> list[ItemRow]:
        with self._sessions() as session:
            query = select(ItemRow).where(ItemRow.status != STATUS_OK).order_by(ItemRow.path)
            return list(session.scalars(query))

    # ---- vectors ---------------------------------------------------------------------------

    def vectors_by_id(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        ids = list(ids)
        with self._sessions() as session:
            rows = session.execute(
                select(VectorRow.item_id, VectorRow.vector).where(VectorRow.item_id.in_(ids))
            )
            return {item_id: vector_from_bytes(blob) for item_id, blob in rows}

    def iter_vectors(self, chunk: int = 50_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored vectors in id order: ``(ids int64 (m,), vectors float32 (m, dim))`` chunks."""
        last = -1
        while True:
            with self._sessions() as session:
                rows = session.execute(
                    select(VectorRow.item_id, VectorRow.vector)
                    .where(VectorRow.item_id > last)
                    .order_by(VectorRow.item_id)
                    .limit(chunk)
                ).all()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, np.stack([vector_from_bytes(r[1]) for r in rows])
            last = int(ids[-1])

    def clear_vectors(self, session: Session) -> None:
        session.execute(delete(VectorRow))
        self.bump_generation(session)


def sync_state(store: MetadataStore) -> dict[str, ItemRow]:
    """Every row's path, id, size, mtime, hash and status: what ingest compares files with."""
    columns = (
        ItemRow.id,
        ItemRow.path,
        ItemRow.kind,
        ItemRow.size,
        ItemRow.mtime_ns,
        ItemRow.content_hash,
        ItemRow.status,
    )
    with store.transaction() as session:
        rows = session.execute(select(*columns)).all()
    return {
        r.path: ItemRow(
            id=r.id,
            path=r.path,
            kind=r.kind,
            size=r.size,
            mtime_ns=r.mtime_ns,
            content_hash=r.content_hash,
            status=r.status,
        )
        for r in rows
    }
