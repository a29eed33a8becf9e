"""One transaction's changes to the items and their vectors, with the vector delta they imply.

``Changes`` is the only writer of item and vector rows. Besides the SQL, it records which ids
lost their vector and which got a new one, so the catalog can bring the FAISS index along once
the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, select, update
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


@dataclass(frozen=True)
class FileFacts:
    """What the crawler knows of a file: its folder, where in it, what kind, its size and mtime."""

    folder_id: int
    path: str
    kind: str
    size: int
    mtime_ns: int


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
        row = self.session.get(ItemRow, item_id) if item_id is not None else None
        before = None if row is None else row.status
        if row is None:
            row = ItemRow(folder_id=file.folder_id, path=file.path)
            self.session.add(row)
        self._describe(row, file, digest, STATUS_OK, None)
        for name in FACT_COLUMNS:
            setattr(row, name, facts.get(name))
        self.session.flush()
        self.session.merge(VectorRow(item_id=row.id, vector=vector_to_bytes(vector)))
        if before == STATUS_OK:
            self.delta.dropped.add(row.id)
        self.delta.added[row.id] = np.asarray(vector, np.float32)
        return row.id, before

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

    def touch(self, item_id: int, size: int, mtime_ns: int) -> None:
        """The file's size or mtime changed, its content did not."""
        row = self.session.get(ItemRow, item_id)
        row.size, row.mtime_ns = size, mtime_ns

    def move(self, item_id: int, file: FileFacts) -> None:
        """The file with this content now lives at ``file.path`` (a rename keeps the vector)."""
        row = self.session.get(ItemRow, item_id)
        row.folder_id, row.path = file.folder_id, file.path
        row.size, row.mtime_ns = file.size, file.mtime_ns

    def delete(self, item_ids: Iterable[int]) -> int:
        """Forget items (their vectors go with them); returns how many rows were deleted."""
        count = 0
        for item_id in item_ids:
            row = self.session.get(ItemRow, item_id)
            if row is None:
                continue
            if row.status == STATUS_OK:
                self._drop(row.id)
            self.session.delete(row)
            count += 1
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

    def _describe(
        self, row: ItemRow, file: FileFacts, digest: str | None, status: str, error: str | None
    ) -> None:
        row.kind, row.size, row.mtime_ns = file.kind, file.size, file.mtime_ns
        row.content_hash, row.status, row.error = digest, status, error
        row.indexed_at = datetime.now()

    def _drop(self, item_id: int) -> None:
        self.delta.dropped.add(item_id)
        self.delta.added.pop(item_id, None)
