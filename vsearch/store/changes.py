"""One transaction's changes to the items and their vectors, with the vector delta they imply.

``Changes`` is the only writer of item and vector rows. Besides the SQL, it records which ids
lost their vector and which got a new one, so the catalog can bring the FAISS index along once
the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from vsearch.store.metadata import MetadataStore, vector_to_bytes
from vsearch.store.models import (
    STATUS_FAILED,
    STATUS_OK,
    STATUS_PENDING,
    FolderRow,
    ItemRow,
    VectorRow,
)

#: The facts of a file (decoded at ingest) that are stored in their own columns.
FACT_COLUMNS = (
    "width",
    "height",
    "taken_at",
    "camera_make",
    "camera_model",
    "gps_lat",
    "gps_lon",
    "exif",
    "text",
    "text_source",
    "boxes",
)

#: Ids per ``IN (...)`` list: far below SQLite's limit of 32,766 bound values per statement.
IN_CHUNK = 5_000


@dataclass(frozen=True)
class FileFacts:
    """What the crawler knows of a file: its folder, where in it, what kind, its size and mtime."""

    folder_id: int
    path: str
    kind: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class IndexedFile:
    """A file to store as indexed: its row (None: a new one), facts, content hash and vector."""

    item_id: int | None
    file: FileFacts
    digest: str | None
    facts: dict[str, Any]
    vector: np.ndarray


@dataclass
class VectorDelta:
    """Vector ids that left the index and vectors that entered it, in one transaction."""

    dropped: set[int] = field(default_factory=set)
    added: dict[int, np.ndarray] = field(default_factory=dict)
    cleared: bool = False  # every vector was dropped (a reindex)

    def __bool__(self) -> bool:
        return bool(self.dropped or self.added or self.cleared)


class Changes:
    """Writes to items and vectors inside one open transaction.

    It does not commit, bump the generation or touch FAISS: the catalog does, around it.
    """

    def __init__(self, store: MetadataStore, session: Session) -> None:
        self.store = store
        self.session = session
        self.delta = VectorDelta()

    # ---- reads inside the transaction ------------------------------------------------------

    def stored_vectors(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        return self.store.vectors_by_id(ids, self.session)

    def facts_of(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        rows = self.session.query(ItemRow).filter(ItemRow.id.in_(list(ids)))
        return {row.id: {name: getattr(row, name) for name in FACT_COLUMNS} for row in rows}

    # ---- writes ----------------------------------------------------------------------------

    def index_file(
        self,
        item_id: int | None,
        file: FileFacts,
        digest: str | None,
        facts: dict[str, Any],
        vector: np.ndarray,
    ) -> tuple[int, str | None]:
        """Store a file as indexed with ``vector``; returns ``(id, status it had before)``.

        ``item_id`` is the file's existing row (None: a new row).
        """
        return self.index_files([IndexedFile(item_id, file, digest, facts, vector)])[0]

    def index_files(self, files: Sequence[IndexedFile]) -> list[tuple[int, str | None]]:
        """Store files as indexed, a few statements for all of them (``executemany``): returns
        ``(id, status it had before)`` per file, in order.

        A file whose ``item_id`` names no row gets a new one, as a file without one does.
        """
        if not files:
            return []
        self.session.flush()  # the Core statements below do not flush pending ORM rows
        before = self._statuses(f.item_id for f in files if f.item_id is not None)
        now = datetime.now()
        values = [
            {
                **self._described(f.file, f.digest, STATUS_OK, None, now),
                **{name: f.facts.get(name) for name in FACT_COLUMNS},
            }
            for f in files
        ]
        known = [i for i, f in enumerate(files) if f.item_id in before]
        new = [i for i, f in enumerate(files) if f.item_id not in before]
        ids: list[int] = [0] * len(files)
        if known:
            for i in known:
                ids[i] = files[i].item_id  # type: ignore[assignment]
            self.session.execute(update(ItemRow), [{"id": ids[i], **values[i]} for i in known])
            for chunk in _chunks(ids[i] for i in known):
                self.session.execute(delete(VectorRow).where(VectorRow.item_id.in_(chunk)))
        if new:
            rows = [
                {"folder_id": files[i].file.folder_id, "path": files[i].file.path, **values[i]}
                for i in new
            ]
            # matched by (folder, path), unique: RETURNING's row order is not the VALUES' order,
            # and asking SQLAlchemy for that order makes it insert one row per statement
            items = ItemRow.__table__.c
            returning = insert(ItemRow.__table__).returning(items.id, items.folder_id, items.path)
            made = {(f, p): item_id for item_id, f, p in self.session.execute(returning, rows)}
            for i in new:
                ids[i] = made[files[i].file.folder_id, files[i].file.path]
        vectors = [np.asarray(f.vector, np.float32) for f in files]
        self.session.execute(
            insert(VectorRow.__table__),
            [
                {"item_id": item_id, "vector": vector_to_bytes(vector)}
                for item_id, vector in zip(ids, vectors, strict=True)
            ],
        )
        for item_id, vector in zip(ids, vectors, strict=True):
            if before.get(item_id) == STATUS_OK:
                self.delta.dropped.add(item_id)
            self.delta.added[item_id] = vector
        return [(item_id, before.get(item_id)) for item_id in ids]

    def record_failure(
        self, item_id: int | None, file: FileFacts, reason: str, digest: str | None = None
    ) -> bool:
        """Record a file that cannot be indexed; True when it had a vector that is now gone."""
        row = self.session.get(ItemRow, item_id) if item_id is not None else None
        had_vector = row is not None and row.status == STATUS_OK
        if row is None:
            row = ItemRow(folder_id=file.folder_id, path=file.path)
            self.session.add(row)
        else:
            self.session.execute(delete(VectorRow).where(VectorRow.item_id == row.id))
        self._describe(row, file, digest, STATUS_FAILED, reason)
        if had_vector:
            self._drop(row.id)
        return had_vector

    def mark_pending(self, item_id: int | None, file: FileFacts, reason: str) -> int:
        """Record a file as being indexed (status pending, no vector; a file split into parts
        keeps this row until its last part is written); returns the row's id."""
        row = self.session.get(ItemRow, item_id) if item_id is not None else None
        if row is None:
            row = ItemRow(folder_id=file.folder_id, path=file.path)
            self.session.add(row)
        else:
            self.session.execute(delete(VectorRow).where(VectorRow.item_id == row.id))
            if row.status == STATUS_OK:
                self._drop(row.id)
        self._describe(row, file, None, STATUS_PENDING, reason)
        self.session.flush()
        return row.id

    def touch(self, touched: Sequence[tuple[int, int, int]]) -> None:
        """These files' size or mtime changed, their content did not: ``(id, size, mtime_ns)``
        each, one ``executemany`` for all."""
        if touched:
            rows = [{"id": i, "size": size, "mtime_ns": mtime} for i, size, mtime in touched]
            self.session.execute(update(ItemRow), rows)

    def move(self, item_id: int, file: FileFacts) -> None:
        """The file with this content now lives at ``file.path`` (a rename keeps the vector)."""
        row = self.session.get(ItemRow, item_id)
        row.folder_id, row.path = file.folder_id, file.path
        row.size, row.mtime_ns = file.size, file.mtime_ns

    def delete(self, item_ids: Iterable[int]) -> int:
        """Forget items (their vectors go with them); returns how many rows were deleted."""
        count = 0
        for chunk in _chunks(item_ids):
            statuses = self._statuses(chunk)
            for item_id, status in statuses.items():
                if status == STATUS_OK:
                    self._drop(item_id)
            found = list(statuses)
            self.session.execute(delete(VectorRow).where(VectorRow.item_id.in_(found)))
            self.session.execute(delete(ItemRow).where(ItemRow.id.in_(found)))
            count += len(statuses)
        return count

    def add_folder(self, path: str, excludes: Sequence[str]) -> int:
        """A new folder (``path`` relative to the index folder); returns its id."""
        row = FolderRow(path=path, excludes=list(excludes), added_at=datetime.now())
        self.session.add(row)
        self.session.flush()
        return row.id

    def set_excludes(self, folder_id: int, excludes: Sequence[str]) -> None:
        self.session.get(FolderRow, folder_id).excludes = list(excludes)

    def delete_folder(self, folder_id: int) -> int:
        """Forget a folder and its items (their vectors go with them); returns how many items."""
        ids = self.session.scalars(select(ItemRow.id).where(ItemRow.folder_id == folder_id))
        count = self.delete(list(ids))
        self.session.flush()
        self.session.delete(self.session.get(FolderRow, folder_id))
        return count

    def clear_vectors(self) -> None:
        """Drop every vector and mark every indexed item pending (a reindex)."""
        self.session.execute(delete(VectorRow))
        self.session.execute(
            update(ItemRow).where(ItemRow.status == STATUS_OK).values(status=STATUS_PENDING)
        )
        self.delta = VectorDelta(cleared=True)

    def set_meta(self, key: str, value: Any) -> None:
        self.store.set_meta(key, value, self.session)

    # ---- helpers ---------------------------------------------------------------------------

    def _statuses(self, item_ids: Iterable[int]) -> dict[int, str]:
        """The status of each of these items that has a row, by id (a few queries for all)."""
        found: dict[int, str] = {}
        for chunk in _chunks(item_ids):
            query = select(ItemRow.id, ItemRow.status).where(ItemRow.id.in_(chunk))
            found.update((item_id, status) for item_id, status in self.session.execute(query))
        return found

    @staticmethod
    def _described(
        file: FileFacts, digest: str | None, status: str, error: str | None, when: datetime
    ) -> dict[str, Any]:
        return {
            "kind": file.kind,
            "size": file.size,
            "mtime_ns": file.mtime_ns,
            "content_hash": digest,
            "status": status,
            "error": error,
            "indexed_at": when,
        }

    def _describe(
        self, row: ItemRow, file: FileFacts, digest: str | None, status: str, error: str | None
    ) -> None:
        for name, value in self._described(file, digest, status, error, datetime.now()).items():
            setattr(row, name, value)

    def _drop(self, item_id: int) -> None:
        self.delta.dropped.add(item_id)
        self.delta.added.pop(item_id, None)


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """``ids`` in lists of at most :data:`IN_CHUNK`."""
    it = iter(ids)
    while chunk := list(islice(it, IN_CHUNK)):
        yield chunk
