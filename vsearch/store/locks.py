"""The write lock of an index: a lock file (every platform, via filelock), and on PostgreSQL also
an advisory lock in the database, so writers on two machines exclude each other too.

The OS drops the file lock and PostgreSQL the advisory lock when the process dies, so a killed
ingest never leaves the index locked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from vsearch.errors import IndexBusy, StoreError
from vsearch.store.metadata import MetadataStore


def advisory_key(namespace: str) -> int:
    """A signed 64-bit key for ``pg_advisory_lock`` that names this index's namespace."""
    digest = hashlib.blake2b(f"vsearch:{namespace}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class WriteLock:
    """Held by whoever writes to an index: ingest, remove, reindex, a schema upgrade."""

    def __init__(self, path: Path, store: MetadataStore, what: str) -> None:
        self.path = path
        self.store = store
        self.what = what  # the index, as messages name it

    @contextmanager
    def hold(self, wait: float = 0.0) -> Iterator[None]:
        """Hold the lock for the block; wait up to ``wait`` seconds for it.

        Raises:
            IndexBusy: another writer holds it.
            StoreError: the lock file cannot be created (read-only folder).
        """
        lock = FileLock(self.path, timeout=wait, thread_local=False)
        try:
            lock.acquire()
        except Timeout:
            raise IndexBusy(
                f"another process is writing to the index at {self.what} (ingest, remove or "
                "reindex); wait for it to end"
            ) from None
        except OSError as exc:
            if self.path.is_dir():
                raise StoreError(
                    f"{self.path} is a folder, not a lock file; remove it and run again"
                ) from None
            raise StoreError(
                f"cannot lock the index at {self.what} for writing ({exc.strerror or exc}); "
                "is it on a read-only disk?"
            ) from None
        try:
            if self.store.dialect == "postgresql":
                with self._advisory():
                    yield
            else:
                yield
        finally:
            lock.release()

    @contextmanager
    def _advisory(self) -> Iterator[None]:
        key = advisory_key(self.store.namespace or "")
        connection = self.store.engine.connect()
        try:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            connection.commit()
            if not got:
                raise IndexBusy(
                    f"another machine or process is writing to the index at {self.what} "
                    f"(its database {self.store.shown} holds the lock); wait for it to end"
                )
            try:
                yield
            finally:
                with suppress(SQLAlchemyError):
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    connection.commit()
        finally:
            connection.close()
