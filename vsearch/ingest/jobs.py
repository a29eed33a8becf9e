"""What ingest plans: a path to write (``Target``) and a piece of content to embed (``Job``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vsearch.ingest.crawl import FileEntry
from vsearch.store.changes import FileFacts
from vsearch.store.metadata import SyncRow


@dataclass
class Target:
    """A path of the folder to index (a file, or a part of one), with its stored row if any."""

    folder_id: int
    entry: FileEntry
    row: SyncRow | None  # the existing row for this path, if any

    @property
    def item_id(self) -> int | None:
        return None if self.row is None else self.row.id

    @property
    def file(self) -> FileFacts:
        e = self.entry
        return FileFacts(self.folder_id, e.relpath, e.kind, e.size, e.mtime_ns)


@dataclass
class Job:
    """One piece of content (a hash) to encode and write to every path that holds it.

    ``kind`` is ``image`` or ``text`` (a file read whole), ``page`` (rendered from its PDF) or
    ``chunk`` (a part of a long text, carried in ``content``).
    """

    content_hash: str
    kind: str
    targets: list[Target]
    content: Any = None
