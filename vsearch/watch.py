"""Keep an index in sync while its folders change (``vsearch watch``).

File-system events come from watchfiles (inotify, FSEvents, ReadDirectoryChangesW) grouped into
batches; each batch re-syncs only the paths it names, through the same pipeline and catalog
writer as ``ingest`` (:meth:`vsearch.index.Index.sync_paths`), so a watch stopped at any moment
leaves what ingest would leave. A rename inside one batch keeps the stored vector; a deleted
folder takes its items with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import watchfiles

from vsearch.errors import IndexBusy

if TYPE_CHECKING:
    from vsearch.index import Index
    from vsearch.ingest.pipeline import IngestReport

log = logging.getLogger("vsearch")

#: How long (ms) watchfiles gathers events once some arrived, before a batch is synced.
DEBOUNCE_MS = 800


def watch_index(
    index: Index,
    *,
    also_exclude: Sequence[str] = (),
    on_sync: Callable[[IngestReport], None] | None = None,
    stop: threading.Event | None = None,
    debounce_ms: int = DEBOUNCE_MS,
) -> None:
    """Sync the paths that change under the index's folders until ``stop`` is set (or Ctrl-C).

    Args:
        index: an open index with at least one folder.
        also_exclude: globs skipped in every folder besides each folder's own.
        on_sync: called with the report of every batch that was synced.
        stop: ends the watch when set (checked at least every second).
        debounce_ms: how long a batch gathers events.
    """
    roots = [f.path for f in index.folders()]
    own = index.folder.resolve()
    pending: set[Path] = set()
    for changes in watchfiles.watch(
        *roots,
        stop_event=stop,
        debounce=debounce_ms,
        rust_timeout=1000,
        yield_on_timeout=True,
    ):
        pending |= {p for _, name in changes if not (p := Path(name)).is_relative_to(own)}
        if not pending:
            continue
        try:
            report = index.sync_paths(pending, also_exclude=also_exclude)
        except IndexBusy as exc:  # another writer: keep the paths, try again on the next batch
            log.warning("%s; the changes wait", exc)
            continue
        pending = set()
        if on_sync is not None:
            on_sync(report)
