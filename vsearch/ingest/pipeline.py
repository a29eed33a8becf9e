"""Bring an index in line with a folder: plan, hash, decode in parallel, encode, write in batches.

Crash safety: the metadata store is written one transaction per batch (rows + vectors + a
generation bump together), so a process killed at any moment leaves every committed file whole
and the rest untouched; the FAISS side is rebuilt from the store when its generation is stale.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import delete
from sqlalchemy.orm import Session

from vsearch.encoders.base import Encoder
from vsearch.encoders.instructions import DOCUMENT_INSTRUCTIONS
from vsearch.errors import UnsupportedInput
from vsearch.ingest.crawl import CrawlResult, FileEntry, crawl, kind_of
from vsearch.ingest.decode import Decoded, content_hash, decode, read_bytes
from vsearch.store.metadata import MetadataStore, sync_state, vector_to_bytes
from vsearch.store.models import STATUS_FAILED, STATUS_OK, STATUS_PENDING, ItemRow, VectorRow


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class VectorSink(Protocol):
    """Where vector changes go once the store has committed them (the FAISS index)."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...
    def remove(self, ids: np.ndarray) -> None: ...


@dataclass
class IngestReport:
    """What one ingest did. ``failed`` lists every file (and folder) that is not indexed now."""

    added: int = 0
    updated: int = 0
    moved: int = 0
    removed: int = 0
    unchanged: int = 0
    encoded: int = 0  # pieces of content that went through the encoder
    reused: int = 0  # files that got a stored vector (duplicates, renames) instead
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failed"] = [{"path": p, "reason": r} for p, r in self.failed]
        return data


@dataclass
class _Target:
    entry: FileEntry
    row: ItemRow | None  # the existing row for this path, if any


@dataclass
class _Job:
    """One piece of content (a hash) to encode and write to every path that holds it."""

    content_hash: str
    kind: str
    targets: list[_Target]


@dataclass
class IngestOptions:
    exclude: Sequence[str] = ()
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    batch_size: int | None = None  # None: the encoder's own


class IngestRun:
    """One synchronisation of ``root`` into ``store`` + ``sink`` with ``encoder``."""

    def __init__(
        self,
        store: MetadataStore,
        sink: VectorSink,
        encoder: Encoder,
        root: Path,
        options: IngestOptions,
        progress: Progress | None = None,
    ) -> None:
        self.store, self.sink, self.encoder, self.root = store, sink, encoder, root
        self.options = options
        self.progress = progress
        self.report = IngestReport()
        self.batch_size = options.batch_size or encoder.batch_size

    def run(self) -> IngestReport:
        started = time.perf_counter()
        found = crawl(self.root, self.options.exclude)
        rows = sync_state(self.store)
        to_hash = self._changed_files(found, rows)
        with ThreadPoolExecutor(max(1, self.options.workers)) as pool:
            hashes = dict(zip(to_hash, pool.map(self._hash, to_hash), strict=True))
            jobs = self._apply_cheap_changes(found, rows, hashes)
            self._encode(jobs, pool)
        self.report.failed = found.bad_dirs + [
            (r.path, r.error or "") for r in self.store.failed_items()
        ]
        self.report.seconds = time.perf_counter() - started
        return self.report

    # ---- planning --------------------------------------------------------------------------

    def _changed_files(self, found: CrawlResult, rows: dict[str, ItemRow]) -> list[FileEntry]:
        """Files whose content may differ from what is stored (size+mtime fast path)."""
        changed = []
        for entry in found.files:
            row = rows.get(entry.relpath)
            same = row is not None and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns)
            if same and row.status != STATUS_PENDING:
                if row.status == STATUS_OK:
                    self.report.unchanged += 1
                continue
            changed.append(entry)
        return changed

    def _hash(self, entry: FileEntry) -> str | UnsupportedInput:
        try:
            return content_hash(read_bytes(self.root / entry.relpath))
        except UnsupportedInput as exc:
            return exc

    def _apply_cheap_changes(
        self,
        found: CrawlResult,
        rows: dict[str, ItemRow],
        hashes: dict[FileEntry, str | UnsupportedInput],
    ) -> list[_Job]:
        """Touches, renames, duplicates, deletions and read failures in one transaction.

        Returns the content that still needs the encoder, grouped by hash.
        """
        present = {e.relpath for e in found.files} | {p for p, _ in found.bad_files}
        missing = {
            p: r for p, r in rows.items() if p not in present and not found.is_under_bad_dir(p)
        }
        changed_paths = {e.relpath for e in hashes}
        movable: dict[str, list[ItemRow]] = defaultdict(list)
        sources: dict[str, ItemRow] = {}
        for row in rows.values():
            if row.status == STATUS_OK and row.content_hash:
                if row.path in missing:
                    movable[row.content_hash].append(row)
                elif row.path not in changed_paths:
                    sources.setdefault(row.content_hash, row)
        jobs: dict[tuple[str, str], _Job] = {}
        copies: list[tuple[_Target, ItemRow]] = []
        stale_ids: list[int] = []
        with self.store.transaction() as session:
            unreadable = [
                (FileEntry(p, kind_of(p) or "image", 0, 0), r) for p, r in found.bad_files
            ]
            unreadable += [(e, d) for e, d in hashes.items() if isinstance(d, UnsupportedInput)]
            for entry, reason in unreadable:
                target = _Target(entry, rows.get(entry.relpath))
                if self._write_failure(session, target, str(reason)):
                    stale_ids.append(target.row.id)
            for entry, digest in hashes.items():
                target = _Target(entry, rows.get(entry.relpath))
                if isinstance(digest, UnsupportedInput):
                    continue
                if (
                    target.row
                    and target.row.content_hash == digest
                    and target.row.status != STATUS_PENDING
                ):
                    self._touch(session, target)
                elif target.row is None and movable.get(digest):
                    source = movable[digest].pop()
                    self._move(session, source, entry)
                    del missing[source.path]
                elif digest in sources:
                    copies.append((target, sources[digest]))
                else:
                    key = (digest, entry.kind)
                    jobs.setdefault(key, _Job(digest, entry.kind, [])).targets.append(target)
            stale_ids += self._delete(session, missing.values())
            copied = self._copy_vectors(session, copies)
            stale_ids += [t.row.id for t, _ in copies if t.row and t.row.status == STATUS_OK]
            if stale_ids or copied:
                self.store.bump_generation(session)
        self.sink.remove(np.array(stale_ids, np.int64))
        if copied:
            ids, vectors = zip(*copied, strict=True)
            self.sink.add(np.array(ids, np.int64), np.stack(vectors))
        return list(jobs.values())

    # ---- cheap changes ---------------------------------------------------------------------

    def _touch(self, session: Session, target: _Target) -> None:
        row = session.get(ItemRow, target.row.id)
        row.size, row.mtime_ns = target.entry.size, target.entry.mtime_ns
        if row.status == STATUS_OK:
            self.report.unchanged += 1

    def _move(self, session: Session, source: ItemRow, entry: FileEntry) -> None:
        row = session.get(ItemRow, source.id)
        row.path, row.size, row.mtime_ns = entry.relpath, entry.size, entry.mtime_ns
        self.report.moved += 1

    def _delete(self, session: Session, rows: Any) -> list[int]:
        removed = []
        for row in rows:
            session.delete(session.get(ItemRow, row.id))
            self.report.removed += 1
            if row.status == STATUS_OK:
                removed.append(row.id)
        return removed

    def _copy_vectors(
        self, session: Session, copies: list[tuple[_Target, ItemRow]]
    ) -> list[tuple[int, np.ndarray]]:
        stored = self.store.vectors_by_id({source.id for _, source in copies})
        full_rows = self.store.items_by_id({source.id for _, source in copies})
        written = []
        for target, source in copies:
            facts = _facts_of(full_rows[source.id])
            row = self._upsert(session, target, source.content_hash, facts)
            session.merge(VectorRow(item_id=row.id, vector=vector_to_bytes(stored[source.id])))
            written.append((row.id, stored[source.id]))
            self.report.reused += 1
        return written

    # ---- encoding --------------------------------------------------------------------------

    def _encode(self, jobs: list[_Job], pool: ThreadPoolExecutor) -> None:
        if self.progress:
            self.progress.start(len(jobs))
        buffers: dict[str, list[tuple[_Job, Decoded, Any]]] = defaultdict(list)
        failures: list[tuple[_Job, str]] = []
        for job, outcome in self._decoded(jobs, pool):
            if isinstance(outcome, UnsupportedInput):
                failures.append((job, str(outcome)))
            else:
                buffers[job.kind].append((job, *outcome))
                if len(buffers[job.kind]) >= self.batch_size:
                    self._write_batch(job.kind, buffers.pop(job.kind), failures)
                    failures = []
            if self.progress:
                self.progress.advance()
        for kind in list(buffers):
            self._write_batch(kind, buffers.pop(kind), failures)
            failures = []
        if failures:
            self._write_batch("image", [], failures)
        if self.progress:
            self.progress.finish()

    def _decoded(
        self, jobs: list[_Job], pool: ThreadPoolExecutor
    ) -> Iterator[tuple[_Job, tuple[Decoded, Any] | UnsupportedInput]]:
        """Decode + prepare jobs in worker threads, in order, a bounded number ahead."""
        window: deque[tuple[_Job, Future[Any]]] = deque()
        ahead = max(2 * self.batch_size, 4 * self.options.workers)
        pending = iter(jobs)
        for job in pending:
            window.append((job, pool.submit(self._decode_one, job)))
            if len(window) >= ahead:
                break
        while window:
            job, future = window.popleft()
            following = next(pending, None)
            if following is not None:
                window.append((following, pool.submit(self._decode_one, following)))
            yield job, future.result()

    def _decode_one(self, job: _Job) -> tuple[Decoded, Any] | UnsupportedInput:
        try:
            data = read_bytes(self.root / job.targets[0].entry.relpath)
            decoded = decode(data, job.kind, max_side=self.encoder.max_image_side)
            return decoded, self.encoder.prepare(decoded.item)
        except UnsupportedInput as exc:
            return exc
        except Exception as exc:  # a decoder bug must not stop the whole ingest
            return UnsupportedInput(f"cannot decode: {type(exc).__name__}: {exc}")

    def _write_batch(
        self,
        kind: str,
        batch: list[tuple[_Job, Decoded, Any]],
        failures: list[tuple[_Job, str]],
    ) -> None:
        vectors = (
            self.encoder.embed_batch(
                [prepared for _, _, prepared in batch], DOCUMENT_INSTRUCTIONS[kind]
            )
            if batch
            else np.zeros((0, self.encoder.dim), np.float32)
        )
        self.report.encoded += len(batch)
        added_ids, added_vectors, stale_ids = [], [], []
        with self.store.transaction() as session:
            for (job, decoded, _), vector in zip(batch, vectors, strict=True):
                for target in job.targets:
                    row = self._upsert(session, target, job.content_hash, _decoded_facts(decoded))
                    session.merge(VectorRow(item_id=row.id, vector=vector_to_bytes(vector)))
                    added_ids.append(row.id)
                    added_vectors.append(vector)
                    if target.row is not None and target.row.status == STATUS_OK:
                        stale_ids.append(target.row.id)
            for job, reason in failures:
                for target in job.targets:
                    if self._write_failure(session, target, reason, job.content_hash):
                        stale_ids.append(target.row.id)
            self.store.bump_generation(session)
        self.sink.remove(np.array(stale_ids, np.int64))
        if added_ids:
            self.sink.add(np.array(added_ids, np.int64), np.stack(added_vectors))

    # ---- rows ------------------------------------------------------------------------------

    def _upsert(
        self, session: Session, target: _Target, digest: str | None, facts: dict[str, Any]
    ) -> ItemRow:
        entry = target.entry
        row = session.get(ItemRow, target.row.id) if target.row else None
        if row is None:
            row = ItemRow(path=entry.relpath)
            session.add(row)
            self.report.added += 1
        elif row.status == STATUS_FAILED:
            self.report.added += 1
        else:
            self.report.updated += 1
        row.kind, row.size, row.mtime_ns = entry.kind, entry.size, entry.mtime_ns
        row.content_hash, row.status, row.error = digest, STATUS_OK, None
        row.indexed_at = datetime.now()
        for name in _FACT_COLUMNS:
            setattr(row, name, facts.get(name))
        session.flush()
        return row

    def _write_failure(
        self, session: Session, target: _Target, reason: str, digest: str | None = None
    ) -> bool:
        """Record a file that cannot be indexed; True when it had a vector that is now gone."""
        entry = target.entry
        row = session.get(ItemRow, target.row.id) if target.row else None
        had_vector = row is not None and row.status == STATUS_OK
        if row is None:
            row = ItemRow(path=entry.relpath)
            session.add(row)
        else:
            session.execute(delete(VectorRow).where(VectorRow.item_id == row.id))
        row.kind, row.size, row.mtime_ns = entry.kind, entry.size, entry.mtime_ns
        row.content_hash, row.status, row.error = digest, STATUS_FAILED, reason
        row.indexed_at = datetime.now()
        return had_vector


_FACT_COLUMNS = (
    "width",
    "height",
    "taken_at",
    "camera_make",
    "camera_model",
    "gps_lat",
    "gps_lon",
    "exif",
    "text",
)


def _decoded_facts(decoded: Decoded) -> dict[str, Any]:
    return {"width": decoded.width, "height": decoded.height, **decoded.facts}


def _facts_of(row: ItemRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _FACT_COLUMNS}
