"""Bring an index in line with a folder: plan, hash, decode in parallel, encode, write in batches.

Crash safety: each batch is one transaction of the catalog's writer (rows + vectors + a
generation bump together), so a process killed at any moment leaves every committed file whole
and the rest untouched; the catalog rebuilds the FAISS side when its file is stale. This module
holds no SQL: every row change is a :class:`~vsearch.store.changes.Changes` call.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from vsearch.encoders.base import Encoder, Item
from vsearch.encoders.instructions import DOCUMENT_INSTRUCTIONS
from vsearch.errors import UnsupportedInput
from vsearch.ingest import documents, fusion
from vsearch.ingest.crawl import CrawlResult, FileEntry, crawl, kind_of
from vsearch.ingest.decode import Decoded, content_hash, decode, read_bytes
from vsearch.ingest.jobs import Job, Target
from vsearch.ingest.ocr import shared_reader
from vsearch.ingest.parted import PARTED, PartPlanner
from vsearch.parts import file_of, split_part
from vsearch.progress import Progress, Steps, step
from vsearch.store.catalog import Writer
from vsearch.store.changes import Changes, IndexedFile
from vsearch.store.folders import Folder
from vsearch.store.metadata import SyncRow
from vsearch.store.models import STATUS_FAILED, STATUS_OK, STATUS_PENDING

#: Unless told otherwise, ingest reads the text (OCR) of PDF pages that have no text layer, not
#: of images: bench/bench_ocr.py measured OCR at 1.3-2 s an image on 2 busy cores, an ingest of
#: the 80-photo photo set 3.2x as long with it (4.13 vs 1.29 photos/s), and text worth fusing in
#: 1 of those 80 photos (whose R@1 it lowered, 0.412 -> 0.400). ``--ocr`` reads images too.
OCR_IMAGES_BY_DEFAULT = False
#: Encoded files wait for their transaction until it holds this many, or until the first of
#: them waited this long (seconds): behind a fast encoder one transaction takes many of its
#: batches (the commit, the generation bump and the FAISS update are paid once), behind a slow
#: one each batch is committed as it comes. A killed ingest loses at most that much work.
WRITE_ROWS = 1_000
WRITE_SECONDS = 0.1


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

    def add(self, other: IngestReport) -> None:
        """Count ``other`` (the sync of another folder) in this report too."""
        for name in ("added", "updated", "moved", "removed", "unchanged", "encoded", "reused"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed += other.failed
        self.seconds += other.seconds


@dataclass
class IngestOptions:
    exclude: Sequence[str] = ()  # besides the folder's own
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))
    batch_size: int | None = None  # None: the encoder's own
    within: Sequence[str] | None = None  # only these paths of the folder (watch); None: all
    ocr_images: bool = OCR_IMAGES_BY_DEFAULT  # read the text in images
    ocr_pages: bool = True  # read the text of PDF pages without a text layer


class IngestRun:
    """One synchronisation of one of the index's folders through a catalog ``writer``.

    ``encoder`` is called for the encoder only when some content needs embedding, so a re-sync
    with nothing new loads no model. Content that another folder holds reuses its vector.
    """

    def __init__(
        self,
        writer: Writer,
        encoder: Callable[[], Encoder],
        folder: Folder,
        options: IngestOptions,
        progress: Progress | None = None,
        steps: Steps | None = None,
    ) -> None:
        self.writer, self._encoder, self.folder = writer, encoder, folder
        self.root = folder.path
        self.options = options
        self.progress = progress  # of the encoding
        self.steps = steps  # of the other long steps (hashing)
        self.report = IngestReport()
        self.reader = shared_reader()
        self.parts = PartPlanner(writer, folder.id, self.root, self._count)
        self._indexed: list[IndexedFile] = []  # encoded, waiting for their transaction
        self._failed: list[tuple[Job, str]] = []
        self._waiting_since = 0.0

    @cached_property
    def encoder(self) -> Encoder:
        return self._encoder()

    @cached_property
    def batch_size(self) -> int:
        return self.options.batch_size or self.encoder.batch_size

    def run(self) -> IngestReport:
        started = time.perf_counter()
        exclude = [*self.folder.excludes, *self.options.exclude]
        found = crawl(self.root, exclude, self.options.within)
        state = self.writer.sync_state()
        rows = state.pop(self.folder.id, {})
        elsewhere = [r for other in state.values() for r in other.values()]
        to_hash = self._changed_files(found, rows)
        with ThreadPoolExecutor(max(1, self.options.workers)) as pool:
            hashes = self._hash_all(to_hash, pool)
            jobs = self._apply_cheap_changes(found, rows, hashes, elsewhere)
            parted = [e for e in found.files if e.kind in PARTED]
            jobs += self.parts.plan(parted, rows, pool)
            self._encode(jobs, pool)
        self.report.failed = found.bad_dirs + [
            (r.path, r.error or "") for r in self.writer.failed_items(self.folder.id)
        ]
        self.report.seconds = time.perf_counter() - started
        return self.report

    # ---- planning --------------------------------------------------------------------------

    def _changed_files(self, found: CrawlResult, rows: dict[str, SyncRow]) -> list[FileEntry]:
        """Files whose content may differ from what is stored (size+mtime fast path)."""
        changed = []
        for entry in found.files:
            if entry.kind in PARTED:
                continue  # part by part, in PartPlanner
            row = rows.get(entry.relpath)
            same = row is not None and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns)
            if same and row.status != STATUS_PENDING:
                if row.status == STATUS_OK:
                    self.report.unchanged += 1
                continue
            changed.append(entry)
        return changed

    def _hash_all(
        self, files: list[FileEntry], pool: ThreadPoolExecutor
    ) -> dict[FileEntry, str | UnsupportedInput]:
        hashes: dict[FileEntry, str | UnsupportedInput] = {}
        if not files:
            return hashes
        with step(self.steps, "hashing", len(files)) as advance:
            for entry, digest in zip(files, pool.map(self._hash, files), strict=True):
                hashes[entry] = digest
                advance(1)
        return hashes

    def _hash(self, entry: FileEntry) -> str | UnsupportedInput:
        try:
            return content_hash(read_bytes(self.root / entry.relpath, entry.kind))
        except UnsupportedInput as exc:
            return exc

    def _apply_cheap_changes(
        self,
        found: CrawlResult,
        rows: dict[str, SyncRow],
        hashes: dict[FileEntry, str | UnsupportedInput],
        elsewhere: list[SyncRow],
    ) -> list[Job]:
        """Touches, renames, duplicates, deletions and read failures in one transaction.

        Returns the content that still needs the encoder, grouped by hash.
        """
        present = {e.relpath for e in found.files} | {p for p, _ in found.bad_files}
        parted = {e.relpath for e in found.files if e.kind in PARTED}
        missing = {
            p: r
            for p, r in rows.items()
            if (file_of(p) not in present or (file_of(p) != p and file_of(p) not in parted))
            and not found.is_under_bad_dir(p)
            and self._in_scope(file_of(p))
        }
        changed_paths = {e.relpath for e in hashes}
        movable: dict[str, list[SyncRow]] = defaultdict(list)
        sources: dict[str, SyncRow] = {}
        for row in [*rows.values(), *elsewhere]:
            if row.status == STATUS_OK and row.content_hash:
                if row.folder_id == self.folder.id and row.path in missing:
                    movable[row.content_hash].append(row)
                elif row.folder_id != self.folder.id or row.path not in changed_paths:
                    sources.setdefault(row.content_hash, row)
        jobs: dict[tuple[str, str], Job] = {}
        copies: list[tuple[Target, SyncRow]] = []
        touched: list[tuple[int, int, int]] = []
        with self.writer.batch() as changes:
            unreadable = [
                (FileEntry(p, kind_of(p) or "image", 0, 0), r) for p, r in found.bad_files
            ]
            unreadable += [(e, d) for e, d in hashes.items() if isinstance(d, UnsupportedInput)]
            for entry, reason in unreadable:
                target = Target(self.folder.id, entry, rows.get(entry.relpath))
                changes.record_failure(target.item_id, target.file, str(reason))
            for entry, digest in hashes.items():
                target = Target(self.folder.id, entry, rows.get(entry.relpath))
                if isinstance(digest, UnsupportedInput):
                    continue
                if (
                    target.row
                    and target.row.content_hash == digest
                    and target.row.status != STATUS_PENDING
                ):
                    touched.append((target.row.id, entry.size, entry.mtime_ns))
                    if target.row.status == STATUS_OK:
                        self.report.unchanged += 1
                elif target.row is None and movable.get(digest):
                    source = movable[digest].pop()
                    changes.move(source.id, target.file)
                    self.report.moved += 1
                    del missing[source.path]
                elif digest in sources:
                    copies.append((target, sources[digest]))
                else:
                    key = (digest, entry.kind)
                    jobs.setdefault(key, Job(digest, entry.kind, [])).targets.append(target)
            changes.touch(touched)
            self.report.removed += changes.delete(r.id for r in missing.values())
            self._copy_vectors(changes, copies)
        return list(jobs.values())

    def _count(self, name: str, n: int) -> None:
        setattr(self.report, name, getattr(self.report, name) + n)

    def _in_scope(self, relpath: str) -> bool:
        within = self.options.within
        return within is None or any(
            relpath == p or relpath.startswith(p.rstrip("/") + "/") for p in within
        )

    def _copy_vectors(self, changes: Changes, copies: list[tuple[Target, SyncRow]]) -> None:
        """Duplicates of stored content get the stored vector and facts, not a re-encode."""
        stored = changes.stored_vectors({source.id for _, source in copies})
        facts = changes.facts_of({source.id for _, source in copies})
        self._index_files(
            changes,
            [
                IndexedFile(
                    target.item_id,
                    target.file,
                    source.content_hash,
                    facts[source.id],
                    stored[source.id],
                )
                for target, source in copies
            ],
        )
        self.report.reused += len(copies)

    # ---- encoding --------------------------------------------------------------------------

    def _encode(self, jobs: list[Job], pool: ThreadPoolExecutor) -> None:
        if not jobs:
            return
        if self.progress:
            self.progress.start(len(jobs))
        try:
            self._encode_all(jobs, pool)
            self._commit()
        finally:
            if self.progress:
                self.progress.finish()

    def _encode_all(self, jobs: list[Job], pool: ThreadPoolExecutor) -> None:
        buffers: dict[str, list[tuple[Job, Decoded, Any]]] = defaultdict(list)
        failures: list[tuple[Job, str]] = []
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

    def _decoded(
        self, jobs: list[Job], pool: ThreadPoolExecutor
    ) -> Iterator[tuple[Job, tuple[Decoded, Any] | UnsupportedInput]]:
        """Decode + prepare jobs in worker threads, in order, a bounded number ahead."""
        window: deque[tuple[Job, Future[Any]]] = deque()
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

    def _decode_one(self, job: Job) -> tuple[Decoded, Any] | UnsupportedInput:
        try:
            relpath = job.targets[0].entry.relpath
            if job.kind == "page":
                decoded = self._decode_page(relpath)
            elif job.kind == "chunk":
                facts = {"text": job.content, "text_source": "file"}
                decoded = Decoded(item=Item(text=job.content), facts=facts)
            else:
                data = read_bytes(self.root / relpath, job.kind)
                decoded = decode(data, job.kind, max_side=self.encoder.max_image_side, name=relpath)
                if job.kind == "image" and self.options.ocr_images:
                    self._read_text(decoded, scale=(decoded.width or 1) / decoded.item.image.width)
            return decoded, self._prepare(decoded)
        except UnsupportedInput as exc:
            return exc
        except Exception as exc:  # a decoder bug must not stop the whole ingest
            return UnsupportedInput(f"cannot decode: {type(exc).__name__}: {exc}")

    def _decode_page(self, relpath: str) -> Decoded:
        file, _, number = split_part(relpath)
        assert number is not None
        image, text = documents.render_page(
            self.root / file, number, max_side=self.encoder.max_image_side
        )
        decoded = Decoded(item=Item(image=image), width=image.width, height=image.height)
        if sum(c.isalnum() for c in text) >= documents.MIN_LAYER_CHARS:
            decoded.facts.update(text=text, text_source="pdf")
        elif self.options.ocr_pages:
            self._read_text(decoded, scale=1.0)
        return decoded

    def _read_text(self, decoded: Decoded, *, scale: float) -> None:
        """OCR: the image's text and its lines' boxes (in pixels of the original image)."""
        found = self.reader.read(decoded.item.image)
        if not found.lines:
            return
        boxes = found.to_json()
        for line in boxes:
            line["box"] = [[round(x * scale, 1), round(y * scale, 1)] for x, y in line["box"]]
        decoded.facts.update(text=found.text, text_source="ocr", boxes=boxes)

    def _prepare(self, decoded: Decoded) -> tuple[Any, Any]:
        """The encoder's input for the item, and for its text where it is fused in."""
        item, text = decoded.item, decoded.facts.get("text")
        fused = (
            item.image is not None
            and not self.encoder.reads_text_in_images
            and fusion.has_enough_text(text)
        )
        return self.encoder.prepare(item), self.encoder.prepare(Item(text=text)) if fused else None

    def _embed(self, kind: str, prepared: list[tuple[Any, Any]]) -> np.ndarray:
        """Vectors of a batch of one kind, each image's fused with its text's where it has one."""
        instruction = DOCUMENT_INSTRUCTIONS[{"page": "image", "chunk": "text"}.get(kind, kind)]
        vectors = self.encoder.embed_batch([p for p, _ in prepared], instruction)
        with_text = [i for i, (_, t) in enumerate(prepared) if t is not None]
        if with_text:
            texts = self.encoder.embed_batch(
                [prepared[i][1] for i in with_text], DOCUMENT_INSTRUCTIONS["text"]
            )
            vectors[with_text] = fusion.fuse(vectors[with_text], texts, fusion.TEXT_WEIGHT)
        return vectors

    def _write_batch(
        self,
        kind: str,
        batch: list[tuple[Job, Decoded, Any]],
        failures: list[tuple[Job, str]],
    ) -> None:
        vectors = self._embed(kind, [prepared for _, _, prepared in batch]) if batch else []
        self.report.encoded += len(batch)
        encoded = [
            (job, {"width": decoded.width, "height": decoded.height, **decoded.facts}, vector)
            for (job, decoded, _), vector in zip(batch, vectors, strict=True)
        ]
        self._write(encoded, failures)

    def _write(
        self, encoded: list[tuple[Job, dict[str, Any], Any]], failures: list[tuple[Job, str]]
    ) -> None:
        """Encoded jobs (facts, vector) and failed ones join the next transaction, committed
        once it is large or old enough (``WRITE_ROWS``, ``WRITE_SECONDS``)."""
        if not (self._indexed or self._failed):
            self._waiting_since = time.monotonic()
        self._indexed += [
            IndexedFile(target.item_id, target.file, job.content_hash, facts, vector)
            for job, facts, vector in encoded
            for target in job.targets
        ]
        self._failed += failures
        waited = time.monotonic() - self._waiting_since
        if len(self._indexed) + len(self._failed) >= WRITE_ROWS or waited >= WRITE_SECONDS:
            self._commit()

    def _commit(self) -> None:
        """What waits, in one transaction."""
        if not (self._indexed or self._failed):
            return
        with self.writer.batch() as changes:
            self._index_files(changes, self._indexed)
            for indexed in self._indexed:
                self.parts.part_written(changes, indexed.file.path)
            for job, reason in self._failed:
                for target in job.targets:
                    changes.record_failure(target.item_id, target.file, reason, job.content_hash)
                    self.parts.part_written(changes, target.entry.relpath)
        self._indexed, self._failed = [], []

    def _index_files(self, changes: Changes, files: list[IndexedFile]) -> None:
        if not files:
            return
        for _, before in changes.index_files(files):
            if before is None or before == STATUS_FAILED:
                self.report.added += 1
            else:
                self.report.updated += 1
