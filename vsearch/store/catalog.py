"""The catalog: the one coordinator of an index's metadata store, FAISS index and manifest.

The store is the source of truth; ``vectors.faiss`` is derived from it. Every committed change
to the vectors bumps the store's ``generation``; ``vectors.json`` beside the FAISS file records
the store and the generation the file was *built from* (plus its checksum, id count and
dimension), so each copy of an index folder knows whether its own file is current, also when
several copies share one database.

Rules the catalog keeps:

- Only a writer saves, and a writer holds the write lock (:mod:`vsearch.store.locks`). On taking
  it, the writer re-reads the generation and reloads or rebuilds its in-memory index first.
- After each committed transaction the writer applies that transaction's vector delta to the
  in-memory index, and only if the index was built from the generation just before it;
  otherwise the index is dropped and rebuilt from one consistent read of the store.
- A reader checks the generation before every search and reloads when another handle (or
  process) changed it. A reader never saves: a stale or damaged file is rebuilt in its memory,
  and the next writer saves the current index.
- Within a process, searches and the application of a delta exclude each other, so one
  ``Catalog`` can serve searches while an ingest runs in another thread.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import posixpath
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vsearch.atomic import write_text
from vsearch.encoders.base import EncoderIdentity
from vsearch.errors import IndexBusy, IndexClosed, StoreError, VsearchError
from vsearch.hit import Hit
from vsearch.manifest import MANIFEST_NAME, Manifest
from vsearch.parts import file_of
from vsearch.progress import Steps, step
from vsearch.store import migrations, urls
from vsearch.store.changes import Changes, VectorDelta
from vsearch.store.filters import Filters, matching_ids
from vsearch.store.folders import Folder, check_new, containing, stored_path
from vsearch.store.fulltext import keyword_search
from vsearch.store.layout import (
    DB_NAME,
    FAISS_NAME,
    LOCK_NAME,
    STAMP_NAME,
    lock_path,
    new_namespace,
    sqlite_url,
    store_url_to_open,
    writable,
)
from vsearch.store.locks import WriteLock
from vsearch.store.metadata import MetadataStore, SyncRow
from vsearch.store.models import SCHEMA_VERSION, STATUS_OK, ItemRow
from vsearch.store.retrieval import filtered_search, scores_among
from vsearch.store.tuning import UNTUNED
from vsearch.store.vectors import VectorIndex, choose_kind, suits

__all__ = ["DB_NAME", "FAISS_NAME", "LOCK_NAME", "STAMP_NAME", "Catalog", "Writer"]

#: How long a short write (remove, reindex, a schema upgrade) waits for a running one.
SHORT_WRITE_WAIT = 30.0

log = logging.getLogger("vsearch")


@dataclass
class _Snapshot:
    """The in-memory FAISS index and the store generation its content equals."""

    vectors: VectorIndex
    generation: int


class Catalog:
    """Keeps one index folder's store, vectors and manifest consistent.

    It does not embed anything or read the ingested files: ingest and the query layer do, and
    go through it for every read and write of stored state.
    """

    def __init__(self, folder: Path, manifest: Manifest, store: MetadataStore) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = store
        self.lock = WriteLock(lock_path(folder, store), store, str(folder))
        self._snapshot: _Snapshot | None = None
        self._vectors_lock = threading.RLock()
        self._write_mutex = threading.Lock()
        self._closed = False
        self._store_id: str | None = None
        self._damage: str | None = None  # why the FAISS file failed its checks; a writer saves

    # ---- opening ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: Path,
        *,
        identity: EncoderIdentity,
        facts: dict[str, Any],
        store_url: str | None = None,
        index_kind: str = "auto",
    ) -> Catalog:
        """A new, empty index at ``folder``; ``facts`` join the store's index facts.

        Raises:
            VsearchError: an index exists there already; StoreError: the database cannot be
                used or already holds this index's namespace.
        """
        if (folder / MANIFEST_NAME).exists():
            raise VsearchError(f"an index already exists at {folder}; open it instead")
        choose_kind(0, index_kind)  # validates the name
        sqlite = store_url is None or urls.is_sqlite(store_url)
        namespace = None if sqlite else new_namespace(folder)
        folder.mkdir(parents=True, exist_ok=True)
        store = MetadataStore(store_url or sqlite_url(folder), namespace)
        store.create({**facts, "encoder": identity.to_dict()})
        manifest = Manifest(
            encoder=identity,
            store_url=store_url and urls.without_password(store_url),
            store_namespace=namespace,
            index_kind=index_kind,
        )
        manifest.save(folder)
        return cls(folder, manifest, store)

    @classmethod
    def open(cls, folder: Path, *, store_url: str | None = None) -> Catalog:
        """The index at ``folder``, upgraded to the current schema if it is older.

        Args:
            store_url: the database URL again, e.g. with the password the manifest does not
                keep; it must name the database the manifest names.

        Raises:
            IndexNotFound, SchemaVersionError, StoreError.
        """
        manifest = Manifest.load(folder)
        url = store_url_to_open(folder, manifest, store_url)
        read_only = not writable(folder, url)
        store = MetadataStore(url, manifest.store_namespace, read_only=read_only)
        store.connect()
        catalog = cls(folder, manifest, store)
        found = store.schema_version(str(folder))
        if found < SCHEMA_VERSION or manifest.schema_version < SCHEMA_VERSION:
            catalog._upgrade()
        return catalog

    @property
    def read_only(self) -> bool:
        """True when the index folder or its SQLite file cannot be written (searching works)."""
        return self.store.read_only

    def _refuse_if_read_only(self, doing: str) -> None:
        if self.read_only:
            raise StoreError(
                f"the index at {self.folder} is read-only: searching works, but {doing} needs "
                "write access to its folder"
            )

    def _upgrade(self) -> None:
        self._refuse_if_read_only("upgrading it from an older vsearch (open it once so)")
        with self.lock.hold(SHORT_WRITE_WAIT):
            found = self.store.schema_version(str(self.folder))
            reached = migrations.upgrade(self.store, found)
            self.manifest.schema_version = SCHEMA_VERSION
            self.manifest.save(self.folder)
            self.store.refresh_planner_statistics()  # an upgrade may rebuild the tables
        if reached:
            log.info("upgraded the index at %s to schema %d", self.folder, SCHEMA_VERSION)

    def close(self) -> None:
        self._closed = True
        self.store.close()

    def check_open(self) -> None:
        if self._closed:
            raise IndexClosed(f"the index at {self.folder} is closed; open it again to use it")

    # ---- facts -----------------------------------------------------------------------------

    @property
    def identity(self) -> EncoderIdentity:
        """The encoder identity the vectors were made with, read from the store."""
        return EncoderIdentity.from_dict(self.store.get_meta("encoder"))

    @property
    def encoder_spec(self) -> str:
        return self.store.get_meta("encoder_spec") or self.identity.model_id

    def folders(self) -> list[Folder]:
        """The folders the index holds, in the order they were added."""
        self.check_open()
        return [Folder.from_row(row, self.folder) for row in self.store.folders()]

    @property
    def root(self) -> Path | None:
        """The first folder the index holds, or None before an ingest."""
        folders = self.folders()
        return folders[0].path if folders else None

    def count(self, status: str | None = STATUS_OK) -> int:
        self.check_open()
        return self.store.count(status)

    def info(self) -> dict[str, Any]:
        vectors = self.vectors()
        return {
            "index": str(self.folder),
            "folders": [str(f.path) for f in self.folders()],
            "encoder": self.identity.to_dict(),
            "model": self.store.get_meta("encoder_spec"),
            "items": self.count(),
            "failed": self.count("failed"),
            "pending": self.count("pending"),
            "vectors": len(vectors),
            "index_kind": vectors.kind,
            "index_params": vectors.params,
            "index_recall": None if vectors.tuning is None else vectors.tuning.recall,
            "schema_version": self.store.get_meta("schema_version"),
            "store": self.store.shown,
            "namespace": self.store.namespace,
        }

    # ---- reads -----------------------------------------------------------------------------

    def vectors(self) -> VectorIndex:
        """The FAISS index as of the store's current generation (reloaded when it moved)."""
        with self._vectors_lock:
            return self._fresh().vectors

    def search(
        self,
        query_emb: np.ndarray,
        k: int,
        *,
        filters: Filters | None = None,
        min_score: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, ids)`` for ``query_emb`` (``(dim,)`` float32, unit length)."""
        with self._vectors_lock:
            vectors = self._fresh().vectors  # built with the store's dimension
            if np.shape(query_emb) != (vectors.dim,):
                raise ValueError(
                    f"a query vector for this index has shape ({vectors.dim},), "
                    f"got {np.shape(query_emb)}"
                )
            return filtered_search(
                vectors, self.store, query_emb, k, filters=filters, min_score=min_score
            )

    def keyword_search(
        self, query: str, k: int, *, filters: Filters | None = None, any_word: bool = True
    ) -> tuple[list[int], list[float]]:
        """Top-``k`` ``(ids, relevance)`` of the items whose text holds the words of ``query``
        (all of them; with ``any_word``, any of them when no item holds all)."""
        self.check_open()
        return keyword_search(self.store, query, k, filters=filters, any_word=any_word)

    def scores_of(self, query_emb: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Cosine similarity of ``query_emb`` with each of these items' vectors, by id."""
        with self._vectors_lock:
            vectors = self._fresh().vectors
            scores, found = scores_among(vectors, self.store, query_emb, np.asarray(ids, np.int64))
        return {int(i): float(s) for i, s in zip(found, scores, strict=True)}

    def hits(self, ids: Iterable[int], scores: Iterable[float]) -> list[Hit]:
        """Hits for item ids with their scores, in the order given; unknown ids are skipped."""
        self.check_open()
        pairs = [(int(i), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]
        rows = self.store.items_by_id(i for i, _ in pairs)
        roots = {f.id: f.path for f in self.folders()}
        return [
            Hit.from_row(rows[i], s, roots.get(rows[i].folder_id, self.folder))
            for i, s in pairs
            if i in rows
        ]

    def parts_at(self, path: str | os.PathLike[str]) -> list[int]:
        """Ids of the indexed items that are parts of the file at ``path`` (its PDF pages or
        text chunks), ``path`` given as for :meth:`item_at`; [] for a file indexed whole."""
        self.check_open()
        given = Path(path).expanduser()
        if given.is_absolute() or given.exists():
            found = containing(self.folders(), given.resolve())
            if found is None:
                return []
            wanted = {(found[0].id, found[1])}
        else:
            relpath = posixpath.normpath(given.as_posix())
            wanted = {(f.id, relpath) for f in self.folders()}
        return [
            item_id
            for item_id, (folder_id, item_path) in self.store.paths_by_id().items()
            if file_of(item_path) != item_path and (folder_id, file_of(item_path)) in wanted
        ]

    def item_at(self, path: str | os.PathLike[str]) -> ItemRow | None:
        """The item at ``path``: a file on disk under one of the folders, or a path relative to
        the folder that holds it (in any folder, when only one has it).

        Raises:
            VsearchError: the file lies outside every folder, or several folders hold that path.
        """
        self.check_open()
        given = Path(path).expanduser()
        if given.is_absolute() or given.exists():
            folders = self.folders()
            found = containing(folders, given.resolve())
            if found is None:
                shown = ", ".join(str(f.path) for f in folders) or "none yet"
                raise VsearchError(f"{path} is outside the indexed folders ({shown})")
            return self.store.item_by_path(found[1], found[0].id)
        rows = self.store.items_by_path(posixpath.normpath(given.as_posix()))
        if len(rows) > 1:
            raise VsearchError(
                f"{path} is in {len(rows)} of the indexed folders; give the path to the file"
            )
        return rows[0] if rows else None

    def stored_vectors(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """The stored vectors of these item ids (``(dim,)`` float32 each), by id."""
        self.check_open()
        return self.store.vectors_by_id(ids)

    def all_vectors(self, filters: Filters | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every stored vector (of the items passing ``filters``), read in one consistent state.

        Returns:
            ``(ids int64 (n,), vectors float32 (n, dim))`` in id order.
        """
        self.check_open()
        with self.store.snapshot() as session:
            ids, vectors = self.store.all_vectors(session)
        if vectors is None:
            return ids, np.zeros((0, self.identity.dim), np.float32)
        if filters:
            keep = np.isin(ids, matching_ids(self.store, filters))
            ids, vectors = ids[keep], vectors[keep]
        return ids, vectors

    def paths_by_id(self) -> dict[int, Path]:
        """The absolute path of every indexed item, by id."""
        self.check_open()
        roots = {f.id: f.path for f in self.folders()}
        return {i: roots[f] / p for i, (f, p) in self.store.paths_by_id().items() if f in roots}

    # ---- writes ----------------------------------------------------------------------------

    @contextmanager
    def writing(self, *, wait: float = 0.0, steps: Steps | None = None) -> Iterator[Writer]:
        """Hold the write lock for the block and yield the writer; save the vectors at the end.

        Args:
            steps: reports the long steps of bringing the vector index along (reading the
                stored vectors, building the index, saving it).

        Raises:
            IndexBusy: another writer holds the lock (after ``wait`` seconds).
        """
        self.check_open()
        self._refuse_if_read_only("writing (ingest, remove, reindex)")
        started = time.monotonic()
        got = (
            self._write_mutex.acquire(timeout=wait)
            if wait > 0
            else self._write_mutex.acquire(False)
        )
        if not got:
            raise IndexBusy(f"this process is already writing to the index at {self.folder}")
        try:
            with self.lock.hold(max(0.0, wait - (time.monotonic() - started))):
                with self._vectors_lock:
                    self._fresh(steps)
                try:
                    yield Writer(self)
                except BaseException:
                    self._finish_write(steps, after_error=True)
                    raise
                self._finish_write(steps)
        finally:
            self._write_mutex.release()

    def _finish_write(self, steps: Steps | None, *, after_error: bool = False) -> None:
        """Under the lock: bring the in-memory index to the store's state and its kind, save it.

        After an error (a full disk, say) the save is still tried, for the batches that did
        commit; if it fails too, the stamp stays old and the next open rebuilds from the store.
        """
        if after_error:
            try:
                self._finish_write(steps)
            except (VsearchError, OSError, RuntimeError) as exc:
                log.debug("vectors not saved after the error: %s", exc)
            return
        with self._vectors_lock:
            snapshot = self._fresh(steps)
            vectors = snapshot.vectors
            wanted = choose_kind(len(vectors), self.manifest.index_kind, dim=vectors.dim)
            if not suits(wanted, vectors.kind) or vectors.rebuild_due():
                snapshot = self._snapshot = self._rebuild(steps)
            elif vectors.compaction_due():
                with step(steps, "compacting the vector index"):
                    snapshot.vectors = vectors.compacted(self.folder)
            stamp = self._stamp()
            if (
                self._damage is not None
                or not self._file_is_current(snapshot.generation, stamp)
                or stamp.get("files", {}).get("base") != snapshot.vectors.base_file
            ):
                self._save(snapshot, steps)
                self._damage = None
        self.store.refresh_planner_statistics()

    def _apply(self, delta: VectorDelta, before: int, after: int) -> None:
        """A committed transaction's delta, applied to the index built from ``before``."""
        snapshot = self._snapshot
        if delta.cleared or snapshot is None or snapshot.generation != before:
            self._snapshot = None
            return
        snapshot.vectors.remove(np.fromiter(delta.dropped, np.int64, len(delta.dropped)))
        if delta.added:
            ids = np.fromiter(delta.added, np.int64, len(delta.added))
            snapshot.vectors.add(ids, np.stack(list(delta.added.values())))
        snapshot.generation = after

    # ---- the FAISS file --------------------------------------------------------------------

    def _fresh(self, steps: Steps | None = None) -> _Snapshot:
        """Under ``_vectors_lock``: the snapshot for the store's current generation."""
        self.check_open()
        generation = self.store.generation()
        snapshot = self._snapshot
        if snapshot is None or snapshot.generation != generation:
            snapshot = self._load(generation)
            if snapshot is None:
                started = time.perf_counter()
                snapshot = self._rebuild(steps)
                if self._damage is not None:
                    log.warning(
                        "%s was damaged (%s); rebuilt from the store in %.1f s",
                        self.folder / FAISS_NAME,
                        self._damage,
                        time.perf_counter() - started,
                    )
            self._snapshot = snapshot
        return snapshot

    def _load(self, generation: int) -> _Snapshot | None:
        """The saved index if it is the store's ``generation``; None: rebuild it."""
        stamp = self._stamp()
        for _ in range(2):  # a writer may replace the files between the stamp and their read
            if not self._file_is_current(generation, stamp):
                return None
            try:
                vectors = VectorIndex.load(
                    self.folder,
                    _saved_files(stamp),
                    stamp["kind"],
                    count=stamp["count"],
                    dim=stamp["dim"],
                    tuned=stamp.get("tuning"),
                )
            except (ValueError, KeyError) as exc:
                again = self._stamp()
                if again == stamp:
                    self._damage = str(exc)
                    return None
                stamp = again
                continue
            self._damage = None
            return _Snapshot(vectors, generation)
        return None

    def _rebuild(self, steps: Steps | None = None) -> _Snapshot:
        """The FAISS index from one consistent read of the stored vectors."""
        with self.store.snapshot() as session:
            generation = self.store.generation(session)
            dim = EncoderIdentity.from_dict(self.store.get_meta("encoder", session=session)).dim
            total = self.store.count_vectors(session)
            with step(steps if total else None, "reading vectors", total) as advance:
                ids, vecs = self.store.all_vectors(session, advance=advance)
        kind = choose_kind(len(ids), self.manifest.index_kind, dim=dim)
        target = self.manifest.index_recall
        with step(steps if len(ids) else None, "building the vector index", len(ids)) as added:
            if self.manifest.index_kind == "auto":
                built = VectorIndex.build_auto(
                    kind,
                    dim,
                    ids,
                    vecs,
                    target=target,
                    params=self.manifest.search_params,
                    added=added,
                )
            else:
                params = self.manifest.search_params(kind)
                built = VectorIndex.build(
                    kind, dim, ids, vecs, target=target, params=params, added=added
                )
        return _Snapshot(built, generation)

    def tune(
        self,
        *,
        kind: str | None = None,
        recall: float | None = None,
        params: dict[str, int] | None = None,
        steps: Steps | None = None,
    ) -> None:
        """Change how the vectors are indexed and rebuild them so: the ``kind`` (or ``auto``),
        the recall@10 the tuning aims at, and settings that replace the tuning (``{}`` clears
        them). What is not given stays as it is."""
        if kind is not None:
            choose_kind(0, kind)  # validates the name
        if recall is not None and not 0.0 < recall <= 1.0:
            raise ValueError(f"the recall target is in (0, 1], got {recall}")
        known = {name for setting in UNTUNED.values() for name in setting}
        unknown = set(params or {}) - known
        if unknown or any(value < 1 for value in (params or {}).values()):
            raise ValueError(
                f"index settings are positive integers named {', '.join(sorted(known))}; "
                f"got {params}"
            )
        with self.writing(wait=SHORT_WRITE_WAIT, steps=steps), self._vectors_lock:
            self.manifest.index_kind = kind if kind is not None else self.manifest.index_kind
            if recall is not None:
                self.manifest.index_recall = recall
            if params is not None:
                self.manifest.index_params = dict(params)
            self.manifest.save(self.folder)
            self._snapshot = self._rebuild(steps)

    def rebuild(self, steps: Steps | None = None) -> None:
        """Recreate the FAISS index from the stored vectors and save it (under the lock)."""
        with self.writing(wait=SHORT_WRITE_WAIT, steps=steps), self._vectors_lock:
            self._snapshot = self._rebuild(steps)

    def _stamp(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / STAMP_NAME).read_text())
        except (OSError, ValueError):
            return {}

    @property
    def store_id(self) -> str:
        if self._store_id is None:
            self._store_id = self.store.get_meta("store_id")
        return self._store_id

    def _file_is_current(self, generation: int, stamp: dict[str, Any] | None = None) -> bool:
        stamp = self._stamp() if stamp is None else stamp
        return stamp.get("store_id") == self.store_id and stamp.get("generation") == generation

    def _save(self, snapshot: _Snapshot, steps: Steps | None = None) -> None:
        try:
            with step(steps, "saving the vector index"):
                self._write_files(snapshot)
        except OSError as exc:
            full = exc.errno == errno.ENOSPC
            raise StoreError(
                f"cannot write {self.folder / FAISS_NAME}: "
                + ("the disk is full" if full else str(exc.strerror or exc))
                + "; the store is intact and the next `vsearch ingest` writes it again"
            ) from None

    def _write_files(self, snapshot: _Snapshot) -> None:
        files = snapshot.vectors.save(self.folder)
        stamp = {
            "store_id": self.store_id,
            "generation": snapshot.generation,
            "kind": snapshot.vectors.kind,
            "count": len(snapshot.vectors),
            "dim": snapshot.vectors.dim,
            "files": files,
        }
        if snapshot.vectors.tuning is not None:
            stamp["tuning"] = snapshot.vectors.tuning.to_dict()
        write_text(self.folder / STAMP_NAME, json.dumps(stamp, indent=2) + "\n")


def _saved_files(stamp: dict[str, Any]) -> dict[str, Any]:
    """The stamp's description of the saved files; a stamp written before deltas existed
    describes one whole FAISS file by its checksum."""
    if "files" in stamp:
        return stamp["files"]
    return {"base": {"sha256": stamp["sha256"]}, "delta": None}


class Writer:
    """What a holder of the write lock may do; made by :meth:`Catalog.writing` only."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.store = catalog.store

    @contextmanager
    def batch(self) -> Iterator[Changes]:
        """One transaction of changes; committed at the end of the block with a generation bump,
        then applied to the in-memory FAISS index."""
        catalog = self.catalog
        with catalog._vectors_lock:  # a search never sees the store ahead of the index
            with self.store.transaction() as session:
                changes = Changes(self.store, session)
                yield changes
                bumped = self.store.bump_generation(session) if changes.delta else None
            if bumped is not None:
                catalog._apply(changes.delta, *bumped)

    def add_folder(self, root: Path, excludes: Sequence[str] = ()) -> Folder:
        """Hold ``root`` (resolved) as a folder of the index, or return it when it is one.

        Raises:
            VsearchError: it overlaps a folder the index holds.
        """
        folders = self.catalog.folders()
        for folder in folders:
            if folder.path == root:
                return folder
        check_new(folders, root)
        with self.batch() as changes:
            folder_id = changes.add_folder(stored_path(root, self.catalog.folder), excludes)
        return Folder(folder_id, root, tuple(excludes))

    def set_excludes(self, folder: Folder, excludes: Sequence[str]) -> Folder:
        with self.batch() as changes:
            changes.set_excludes(folder.id, excludes)
        return Folder(folder.id, folder.path, tuple(excludes))

    def remove_folder(self, folder: Folder) -> int:
        """Forget a folder and its items, in one transaction; returns how many items."""
        with self.batch() as changes:
            return changes.delete_folder(folder.id)

    def sync_state(self) -> dict[int, dict[str, SyncRow]]:
        return self.store.sync_state()

    def failed_items(self, folder_id: int | None = None) -> list[ItemRow]:
        return self.store.failed_items(folder_id)

    def remove_items(self, ids: Iterable[int]) -> int:
        """Forget these items; returns how many there were."""
        with self.batch() as changes:
            return changes.delete(ids)

    def reindex(self, identity: EncoderIdentity, facts: dict[str, Any]) -> None:
        """Drop every vector and mark every item pending for the encoder ``identity``."""
        with self.batch() as changes:
            changes.clear_vectors()
            changes.set_meta("encoder", identity.to_dict())
            for key, value in facts.items():
                changes.set_meta(key, value)
        self.catalog.manifest.encoder = identity
        self.catalog.manifest.save(self.catalog.folder)
