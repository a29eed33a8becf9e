"""The metadata store: SQLite (WAL) or PostgreSQL via SQLAlchemy, the source of truth of an index.

On PostgreSQL every index lives in its own schema (``namespace``), so several indexes share one
database without seeing each other's rows.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple
from urllib.parse import quote

import numpy as np
from sqlalchemy import URL, Engine, create_engine, event, func, inspect, select, text
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import CreateSchema

from vsearch.errors import SchemaVersionError, StoreError
from vsearch.store import urls
from vsearch.store.models import (
    SCHEMA_VERSION,
    STATUS_OK,
    Base,
    FolderRow,
    ItemRow,
    MetaRow,
    VectorRow,
)

VECTOR_DTYPE = np.dtype("<f4")
#: Below this many rows a full scan costs less than keeping statistics for the planner.
STATISTICS_FROM = 1_000
_HAS_STATISTICS = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
_ITEMS_STATISTICS = "SELECT stat FROM sqlite_stat1 WHERE tbl = 'items' LIMIT 1"


def vector_to_bytes(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).tobytes()


def vector_from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=VECTOR_DTYPE)


class SyncRow(NamedTuple):
    """What ingest compares a file with: a plain tuple, not an ORM object, per stored row."""

    id: int
    folder_id: int
    path: str
    kind: str
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str


def _sqlite_connect(dbapi_connection: Any, _record: Any, *, read_only: bool = False) -> None:
    cursor = dbapi_connection.cursor()
    if not read_only:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # pysqlite begins transactions only before writes; SQLAlchemy's "begin" event below emits
    # BEGIN itself, so a read of several statements sees one snapshot (WAL) like a write does.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


#: What SQLite says, and the one line a person reads instead (``{db}``: the file).
_SQLITE_PROBLEMS = (
    (
        "database or disk is full",
        "the disk holding {db} is full; nothing committed was lost: free some space and run "
        "`vsearch ingest` again, it resumes where it stopped",
    ),
    (
        "readonly database",
        "{db} is read-only: searching works, but ingest and remove need write access to it and "
        "its folder",
    ),
    *(
        (
            sign,
            "{db} is damaged (SQLite: {reason}); restore it from a backup, or move the index "
            "folder away and build it again with `vsearch ingest`; the indexed files are untouched",
        )
        for sign in ("not a database", "malformed", "disk I/O error")
    ),
)


def _sqlite_problem(database: str, context: Any) -> None:
    """``handle_error`` hook: a full disk, a read-only or a damaged file as one clear StoreError."""
    reason = _reason(context.original_exception)
    for sign, message in _SQLITE_PROBLEMS:
        if sign in reason:
            raise StoreError(message.format(db=database, reason=reason)) from None


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


class MetadataStore:
    """Rows of items, their raw vectors and index facts.

    Every change to vectors bumps ``generation`` in the same transaction, so anything derived
    from the vectors (the FAISS file) can tell whether it is stale. The store does not know
    FAISS, files or encoders.
    """

    def __init__(self, url: str, namespace: str | None = None, *, read_only: bool = False) -> None:
        self.url = urls.parse(url)
        self.namespace = namespace
        self.read_only = read_only
        self.shown = urls.masked(self.url)
        try:
            self._engine: Engine = create_engine(self._connect_url())
        except (ModuleNotFoundError, NoSuchModuleError) as exc:
            extra = " (pip install 'vsearch[postgres]')" if "postgres" in str(self.url) else ""
            raise StoreError(
                f"no database driver for {self.shown}: {exc}{extra}".rstrip(": ")
            ) from None
        if self.dialect == "sqlite":
            connect = functools.partial(_sqlite_connect, read_only=read_only)
            event.listen(self._engine, "connect", connect)
            event.listen(self._engine, "begin", _sqlite_begin)
            problem = functools.partial(_sqlite_problem, self.url.database or self.shown)
            event.listen(self._engine, "handle_error", problem)
        self.engine = (
            self._engine.execution_options(schema_translate_map={None: namespace})
            if namespace
            else self._engine
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def _connect_url(self) -> str | URL:
        """The URL to connect with: a read-only SQLite file is opened as such (``mode=ro``), and
        as immutable when no write-ahead log is pending, since no lock file can be made then."""
        database = self.url.database
        if not (self.read_only and self.url.get_backend_name() == "sqlite" and database):
            return self.url
        pending = os.path.exists(database + "-wal") and os.path.getsize(database + "-wal") > 0
        flags = "mode=ro" if pending else "mode=ro&immutable=1"
        return f"sqlite:///file:{quote(os.path.abspath(database))}?{flags}&uri=true"

    # ---- lifecycle -------------------------------------------------------------------------

    def connect(self) -> None:
        """Reach the database once, so a wrong host, password or driver is one clear error."""
        try:
            with self._engine.connect() as conn:
                if self.dialect == "sqlite":
                    conn.exec_driver_sql("PRAGMA schema_version")  # reads the file's header
        except StoreError:
            raise
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            raise StoreError(
                f"cannot open the metadata store {self.shown}: {_reason(exc)}"
            ) from None

    def has_tables(self) -> bool:
        with self._engine.connect() as conn:
            return inspect(conn).has_table(MetaRow.__tablename__, schema=self.namespace)

    def create(self, facts: dict[str, Any]) -> None:
        """Create the tables and record the index facts; refuse a store that has them already."""
        self.connect()
        if self.has_tables():
            where = f"schema {self.namespace!r} of " if self.namespace else ""
            raise StoreError(
                f"{where}{self.shown} already holds a vsearch index; open that index, or give "
                "this one another database"
            )
        if self.namespace:
            with self._engine.begin() as conn:
                conn.execute(CreateSchema(self.namespace, if_not_exists=True))
        Base.metadata.create_all(self.engine)
        initial = {
            "schema_version": SCHEMA_VERSION,
            "generation": 0,
            "store_id": uuid.uuid4().hex,
            **facts,
        }
        with self.transaction() as session:
            for key, value in initial.items():
                session.merge(MetaRow(key=key, value=value))

    def schema_version(self, where: str) -> int:
        """The schema version the store was written with.

        Raises:
            SchemaVersionError: not a vsearch store, or written by a newer vsearch.
        """
        if not self.has_tables():
            raise SchemaVersionError(f"{where}: {self.shown} holds no vsearch index")
        found = self.get_meta("schema_version")
        if found is None:
            raise SchemaVersionError(f"{where} has no schema version; it is not a vsearch index")
        if int(found) > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"index at {where} has schema version {found}, newer than this vsearch "
                f"understands ({SCHEMA_VERSION}); upgrade vsearch to open it"
            )
        return int(found)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end of the block, or rolled back."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only session that sees one consistent state across all its statements."""
        with self._sessions() as session:
            if self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            try:
                yield session
            finally:
                session.rollback()

    # ---- index facts -----------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None, session: Session | None = None) -> Any:
        if session is not None:
            row = session.get(MetaRow, key)
            return default if row is None else row.value
        with self._sessions() as own:
            return self.get_meta(key, default, own)

    def set_meta(self, key: str, value: Any, session: Session | None = None) -> None:
        if session is not None:
            session.merge(MetaRow(key=key, value=value))
            return
        with self.transaction() as own:
            own.merge(MetaRow(key=key, value=value))

    def delete_meta(self, key: str, session: Session) -> None:
        row = session.get(MetaRow, key)
        if row is not None:
            session.delete(row)

    def generation(self, session: Session | None = None) -> int:
        """How many committed changes the vectors have seen (0 for a new store)."""
        return int(self.get_meta("generation", 0, session))

    def bump_generation(self, session: Session) -> tuple[int, int]:
        """Count one more change in ``session``'s transaction; returns ``(before, after)``.

        The row is locked for update, so two writers can never both see the same ``before``.
        """
        row = session.get(MetaRow, "generation", with_for_update=True)
        before = int(row.value) if row else 0
        session.merge(MetaRow(key="generation", value=before + 1))
        return before, before + 1

    def refresh_planner_statistics(self) -> None:
        """Let SQLite's planner know the items table's shape (``ANALYZE``) once it has grown or
        shrunk twofold since it last looked.

        Without statistics SQLite prefers the index on ``status`` (all but a few rows are "ok")
        to the one on ``path``, and a ``folder=`` filter reads every row. PostgreSQL's
        autovacuum keeps its own statistics.
        """
        if self.dialect != "sqlite" or self.read_only:
            return
        with self.transaction() as session:
            rows = int(session.scalar(select(func.max(ItemRow.id))) or 0)
            if rows < STATISTICS_FROM:
                return
            analysed = session.scalar(text(_HAS_STATISTICS))
            stat = session.scalar(text(_ITEMS_STATISTICS)) if analysed else None
            known = int(stat.split()[0]) if stat else 0
            if not known or not known / 2 <= rows <= known * 2:
                session.execute(text("ANALYZE items"))

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

    def paths_by_id(self) -> dict[int, tuple[int, str]]:
        """``(folder id, path)`` of every indexed item, by id (one query, however many items)."""
        with self._sessions() as session:
            rows = session.execute(
                select(ItemRow.id, ItemRow.folder_id, ItemRow.path).where(
                    ItemRow.status == STATUS_OK
                )
            )
            return {item_id: (folder_id, path) for item_id, folder_id, path in rows}

    def items_by_path(self, path: str, folder_id: int | None = None) -> list[ItemRow]:
        """The items at ``path`` (relative to their folder): in one folder, or in any."""
        query = select(ItemRow).where(ItemRow.path == path)
        if folder_id is not None:
            query = query.where(ItemRow.folder_id == folder_id)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(ItemRow.folder_id)))

    def item_by_path(self, path: str, folder_id: int | None = None) -> ItemRow | None:
        """The item at ``path`` in that folder (None: the first folder that has one)."""
        found = self.items_by_path(path, folder_id)
        return found[0] if found else None

    def failed_items(self, folder_id: int | None = None) -> list[ItemRow]:
        query = select(ItemRow).where(ItemRow.status != STATUS_OK)
        if folder_id is not None:
            query = query.where(ItemRow.folder_id == folder_id)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(ItemRow.folder_id, ItemRow.path)))

    def folders(self, session: Session | None = None) -> list[FolderRow]:
        """The index's folders, in the order they were added."""
        if session is None:
            with self._sessions() as own:
                return self.folders(own)
        return list(session.scalars(select(FolderRow).order_by(FolderRow.id)))

    def folder_counts(self) -> dict[int, int]:
        """How many indexed items each folder holds, by folder id."""
        query = (
            select(ItemRow.folder_id, func.count())
            .where(ItemRow.status == STATUS_OK)
            .group_by(ItemRow.folder_id)
        )
        with self._sessions() as session:
            return {int(f): int(n) for f, n in session.execute(query)}

    def sync_state(self) -> dict[int, dict[str, SyncRow]]:
        """Every row's id, path, size, mtime, hash and status, by folder id, then path: what
        ingest compares files with."""
        columns = (
            ItemRow.id,
            ItemRow.folder_id,
            ItemRow.path,
            ItemRow.kind,
            ItemRow.size,
            ItemRow.mtime_ns,
            ItemRow.content_hash,
            ItemRow.status,
        )
        state: dict[int, dict[str, SyncRow]] = {}
        with self._sessions() as session:
            for row in session.execute(select(*columns)):
                state.setdefault(row[1], {})[row[2]] = SyncRow(*row)
        return state

    # ---- vectors ---------------------------------------------------------------------------

    def vectors_by_id(
        self, ids: Iterable[int], session: Session | None = None
    ) -> dict[int, np.ndarray]:
        """The stored vectors of these item ids; with ``session``, as that transaction sees them."""
        if session is None:
            with self._sessions() as own:
                return self.vectors_by_id(ids, own)
        query = select(VectorRow.item_id, VectorRow.vector).where(VectorRow.item_id.in_(list(ids)))
        return {item_id: vector_from_bytes(blob) for item_id, blob in session.execute(query)}

    def iter_vectors(
        self, chunk: int = 50_000, session: Session | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored vectors in id order: ``(ids int64 (m,), vectors float32 (m, dim))`` chunks.

        With ``session`` (e.g. a :meth:`snapshot`) every chunk comes from that one state.
        """
        last = -1
        while True:
            query = (
                select(VectorRow.item_id, VectorRow.vector)
                .where(VectorRow.item_id > last)
                .order_by(VectorRow.item_id)
                .limit(chunk)
            )
            if session is not None:
                rows = session.execute(query).all()
            else:
                with self._sessions() as own:
                    rows = own.execute(query).all()
            if not rows:
                return
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            yield ids, np.stack([vector_from_bytes(r[1]) for r in rows])
            last = int(ids[-1])

    def count_vectors(self, session: Session) -> int:
        return int(session.scalar(select(func.count()).select_from(VectorRow)) or 0)

    def all_vectors(
        self, session: Session | None = None, advance: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Every stored vector: ``(ids int64 (n,), vectors float32 (n, dim) or None if n = 0)``;
        ``advance`` is told how many each chunk read."""
        chunks = []
        for chunk in self.iter_vectors(session=session):
            chunks.append(chunk)
            if advance is not None:
                advance(len(chunk[0]))
        if not chunks:
            return np.zeros(0, np.int64), None
        return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])
