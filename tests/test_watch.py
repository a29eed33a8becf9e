"""`vsearch watch` through its library function: real files, real file-system events, a bounded
wait for each outcome (never a timed assertion)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable

import pytest

from vsearch.index import Index
from vsearch.watch import watch_index

from .conftest import HashEncoder, write_image
from .store.test_catalog import assert_consistent


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout:.0f} s: {what}")
        time.sleep(0.1)


@pytest.fixture
def watching(tmp_path):
    """An index of one folder, watched by a thread until the test ends."""
    root = tmp_path / "photos"
    write_image(root / "first.png", seed=0, size=(8, 8))
    index = Index.create(tmp_path / "idx", encoder=HashEncoder())
    index.ingest(root)
    stop, reports = threading.Event(), []
    thread = threading.Thread(
        target=watch_index, args=(index,), kwargs={"stop": stop, "on_sync": reports.append}
    )
    thread.start()
    time.sleep(0.5)  # let the watcher subscribe before the test touches the folder
    yield index, root, reports
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    index.close()
    assert_consistent(tmp_path / "idx")


def paths(index: Index) -> set[str]:
    return {row.path for row in index.store.all_items() if row.status == "ok"}


def test_a_burst_of_1000_files_then_renames_and_deletions_are_followed(watching, tmp_path):
    index, root, reports = watching
    staging = tmp_path / "staging"
    for i in range(1000):
        write_image(staging / f"{i:04d}.png", seed=100 + i, size=(8, 8))
    shutil.copytree(staging, root / "copied")  # one burst of 1,000 new files
    wait_for(
        lambda: len(index) == 1001 and sum(r.encoded for r in reports) >= 1000,
        "1,000 copied files indexed and reported",
    )
    assert sum(r.encoded for r in reports) == 1000  # each embedded once, however many batches
    encoded = sum(r.encoded for r in reports)
    (root / "copied").rename(root / "renamed")  # a folder rename keeps every vector
    (root / "first.png").rename(root / "moved.png")
    wait_for(lambda: "renamed/0999.png" in paths(index) and "moved.png" in paths(index), "renames")
    wait_for(lambda: len(index) == 1001, "no item lost or doubled by the renames")
    assert sum(r.encoded for r in reports) == encoded
    shutil.rmtree(root / "renamed")
    wait_for(lambda: paths(index) == {"moved.png"}, "the deleted folder's items removed")
    assert len(index.vectors) == 1


def test_an_edited_file_is_re_embedded_and_others_are_untouched(watching):
    index, root, reports = watching
    write_image(root / "sub/new.png", seed=5, size=(8, 8))
    wait_for(lambda: "sub/new.png" in paths(index), "a new file in a new folder")
    before = index.store.item_by_path("first.png").content_hash
    write_image(root / "first.png", seed=6, size=(8, 8))
    wait_for(
        lambda: index.store.item_by_path("first.png").content_hash != before, "the edit synced"
    )
    assert sum(r.removed for r in reports) == 0
