"""What a server holds: its open indexes (encoders warm) and their re-sync jobs.

The indexes are opened once and shared by every request; ``Index`` is safe to use from several
threads and to ingest while it serves reads, so the only lock here guards the job records.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsearch.errors import VsearchError
from vsearch.index import Index


class NotServed(VsearchError):
    """A request named an index this server does not serve."""


@dataclass
class SyncJob:
    """Progress of one re-sync (``Index.ingest`` in a background thread); the Progress protocol."""

    state: str = "idle"  # idle | running | done | failed
    total: int = 0
    done: int = 0
    started: float | None = None
    finished: float | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self, total: int) -> None:
        with self._lock:
            self.total = total

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n

    def finish(self) -> None:
        """Called by ingest when encoding ends; the job ends when ingest returns (``end``)."""

    def end(self, report: dict[str, Any] | None = None, error: str | None = None) -> None:
        """Record how the re-sync ended: its report, or the error that stopped it."""
        with self._lock:
            self.report, self.error = report, error
            self.state = "failed" if error is not None else "done"
            self.finished = time.time()

    def to_dict(self) -> dict[str, Any]:
        """The job as the API reports it."""
        with self._lock:
            return {
                "state": self.state,
                "total": self.total,
                "done": self.done,
                "started": self.started,
                "finished": self.finished,
                "report": self.report,
                "error": self.error,
            }


class Served:
    """One served index, its name in the API and its current re-sync job."""

    def __init__(self, name: str, index: Index) -> None:
        self.name = name
        self.index = index
        self.folder = str(Path(index.folder).resolve())  # how the CLI names it
        self.job = SyncJob()
        self._lock = threading.Lock()

    def start_sync(self) -> tuple[SyncJob, bool]:
        """Start a re-sync in a background thread unless one is running.

        Returns:
            The current job and whether this call started it.
        """
        with self._lock:
            if self.job.state == "running":
                return self.job, False
            self.job = SyncJob(state="running", started=time.time())
            job = self.job
        threading.Thread(target=self._sync, args=(job,), name=f"resync-{self.name}").start()
        return job, True

    def _sync(self, job: SyncJob) -> None:
        try:
            report = self.index.ingest(progress=job).to_dict()
        except Exception as exc:  # the job reports it; the server keeps serving
            job.end(error=str(exc) or type(exc).__name__)
        else:
            job.end(report=report)


class ServerState:
    """The indexes a server serves, by name; the first is the default."""

    def __init__(self, indexes: Sequence[Index], token: str | None = None) -> None:
        if not indexes:
            raise ValueError("a server needs at least one index")
        self.token = token
        self.served: dict[str, Served] = {}
        for index in indexes:
            name = _unique_name(Path(index.folder).name or "index", self.served)
            self.served[name] = Served(name, index)

    def get(self, name: str | None) -> Served:
        """The index named ``name`` (its API name or its folder's path); None: the first.

        Raises:
            NotServed: no such index here.
        """
        if name is None or name == "":
            return next(iter(self.served.values()))
        if name in self.served:
            return self.served[name]
        for served in self.served.values():
            if served.folder == name:  # compared as text: a request's path is never looked up
                return served
        raise NotServed(f"this server does not serve an index {name!r}; see /api/indexes")

    def close(self) -> None:
        """Close every index."""
        for served in self.served.values():
            served.index.close()


def _unique_name(base: str, taken: dict[str, Served]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name
