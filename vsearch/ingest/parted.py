"""Files indexed as several items: a PDF page by page, a long text chunk by chunk.

A changed file is scanned into parts, each with a content hash; a part whose hash is stored at
its path is kept, a changed or new one becomes a job, and parts past the end are deleted. A file
that cannot be read is one failed row at its own path, and its parts go.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsearch.errors import UnsupportedInput
from vsearch.ingest import chunks, documents
from vsearch.ingest.crawl import FileEntry
from vsearch.ingest.decode import content_hash, decode, read_bytes
from vsearch.ingest.jobs import Job, Target
from vsearch.parts import file_of, part_path, split_part
from vsearch.store.catalog import Writer
from vsearch.store.changes import Changes, FileFacts
from vsearch.store.metadata import SyncRow
from vsearch.store.models import STATUS_OK, STATUS_PENDING

#: The reason a parted file's own row gives while some of its parts wait to be embedded; an
#: ingest stopped then leaves it, and the next one sees the file as changed (its row is pending).
INCOMPLETE = "not indexed completely yet: some of its parts wait to be embedded"
#: Crawl kind of a parted file -> (the anchor of its parts, the kind its items and failure are
#: stored with, the job kind of a part).
PARTED = {"document": ("page", "page", "page"), "chunked": ("chars", "text", "chunk")}


@dataclass(frozen=True)
class Part:
    number: int  # a page (1-based) or a chunk's offset in characters
    digest: str
    content: Any = None  # a chunk's text (a page is rendered when it is embedded)


def scan(root: Path, entry: FileEntry) -> list[Part] | UnsupportedInput:
    """The parts of a parted file, or why it cannot be read."""
    try:
        if entry.kind == "document":
            return [Part(p.number, p.digest) for p in documents.scan(root / entry.relpath)]
        data = read_bytes(root / entry.relpath, "text")
        text = decode(data, "text", max_side=0, name=entry.relpath).item.text or ""
        pieces = chunks.chunks(text)
        return [
            Part(o, "chunk:" + content_hash(p.encode("utf-8", "surrogatepass")), p)
            for o, p in pieces
        ]
    except UnsupportedInput as exc:
        return exc
    except Exception as exc:  # a PDFium surprise must not stop the whole ingest
        return UnsupportedInput(f"cannot read {entry.kind}: {type(exc).__name__}: {exc}")


def stored_parts(rows: Iterable[SyncRow]) -> dict[str, dict[int, SyncRow]]:
    """The stored part rows by file, then part number."""
    parts: dict[str, dict[int, SyncRow]] = defaultdict(dict)
    for row in rows:
        file, anchor, number = split_part(row.path)
        if anchor is not None and number is not None:
            parts[file][number] = row
    return parts


class PartPlanner:
    """Plans the parted files of one folder's sync (see the module docstring). It counts into
    ``count(name, n)``: ``unchanged`` and ``removed``.

    A file with parts to embed keeps a pending row of its own until the last of them is written
    (``markers``: file -> [row id, parts outstanding], for :meth:`part_written`), so a killed
    ingest never leaves a file that looks whole with parts missing.
    """

    def __init__(
        self, writer: Writer, folder_id: int, root: Path, count: Callable[[str, int], None]
    ) -> None:
        self.writer, self.folder_id, self.root, self.count = writer, folder_id, root, count
        self.markers: dict[str, list[int]] = {}

    def plan(
        self, files: list[FileEntry], rows: dict[str, SyncRow], pool: ThreadPoolExecutor
    ) -> list[Job]:
        parts = stored_parts(rows.values())
        changed = [e for e in files if not self._unchanged(e, parts[e.relpath], rows)]
        scanned = pool.map(lambda e: scan(self.root, e), changed)
        jobs: dict[tuple[str, str], Job] = {}
        with self.writer.batch() as changes:
            for entry, outcome in zip(changed, scanned, strict=True):
                anchor, stored_kind, job_kind = PARTED[entry.kind]
                stored, whole = parts.pop(entry.relpath, {}), rows.get(entry.relpath)
                if isinstance(outcome, UnsupportedInput):
                    self.count("removed", changes.delete(r.id for r in stored.values()))
                    file = FileFacts(
                        self.folder_id, entry.relpath, stored_kind, entry.size, entry.mtime_ns
                    )
                    changes.record_failure(whole.id if whole else None, file, str(outcome))
                    continue
                outstanding = 0
                for part in outcome:
                    row = stored.pop(part.number, None)
                    if row and row.content_hash == part.digest and row.status == STATUS_OK:
                        changes.touch([(row.id, entry.size, entry.mtime_ns)])
                        self.count("unchanged", 1)
                        continue
                    path = part_path(entry.relpath, anchor, part.number)
                    target = Target(
                        self.folder_id,
                        FileEntry(path, stored_kind, entry.size, entry.mtime_ns),
                        row,
                    )
                    key = (part.digest, job_kind)
                    job = jobs.setdefault(key, Job(part.digest, job_kind, [], part.content))
                    job.targets.append(target)
                    outstanding += 1
                self.count("removed", changes.delete(r.id for r in stored.values()))
                file = FileFacts(
                    self.folder_id, entry.relpath, stored_kind, entry.size, entry.mtime_ns
                )
                if outstanding:
                    marker = changes.mark_pending(whole.id if whole else None, file, INCOMPLETE)
                    self.markers[entry.relpath] = [marker, outstanding]
                elif whole is not None:  # a failure before, or a text that was short
                    changes.delete([whole.id])
        return list(jobs.values())

    def part_written(self, changes: Changes, path: str) -> None:
        """One part at ``path`` was written (or recorded as failed) in ``changes``' transaction;
        the last one of its file removes the file's pending row."""
        marker = self.markers.get(file_of(path))
        if marker is None:
            return
        marker[1] -= 1
        if marker[1] == 0:
            changes.delete([marker[0]])
            del self.markers[file_of(path)]

    def _unchanged(
        self, entry: FileEntry, parts: dict[int, SyncRow], rows: dict[str, SyncRow]
    ) -> bool:
        whole = rows.get(entry.relpath)
        if whole is not None and whole.status == STATUS_OK:
            return False  # indexed whole by a vsearch that did not split such files
        known = [*parts.values(), *filter(None, [whole])]
        same = bool(known) and all(
            (r.size, r.mtime_ns) == (entry.size, entry.mtime_ns) and r.status != STATUS_PENDING
            for r in known
        )
        if same:
            self.count("unchanged", sum(r.status == STATUS_OK for r in known))
        return same
