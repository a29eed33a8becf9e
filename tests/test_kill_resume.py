"""A ``kill -9`` at any moment of an ingest, then a rerun: nothing lost, nothing duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vsearch.errors import VsearchError
from vsearch.index import Index
from vsearch.store.catalog import Catalog

from .conftest import HashEncoder, write_image

INGEST_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import HashEncoder
    from vsearch.index import Index

    with Index.open_or_create(
        {index!r}, encoder=HashEncoder(delay=0.05), store_url={store_url!r}
    ) as idx:
        idx.ingest({root!r}, workers=2)
    """
)


def committed_items(index: Path, store_url: str | None) -> int:
    if store_url is None:
        try:
            with sqlite3.connect(index / "metadata.sqlite", timeout=1) as conn:
                return conn.execute("SELECT count(*) FROM items WHERE status='ok'").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
    try:
        catalog = Catalog.open(index)
    except VsearchError:  # not created yet
        return 0
    try:
        return catalog.count()
    finally:
        catalog.close()


@pytest.mark.parametrize("kill_after", [1, 40])
def test_killed_ingest_resumes_to_a_consistent_index(tmp_path, kill_after, store_url):
    root = tmp_path / "photos"
    for i in range(120):
        write_image(root / f"p{i:03d}.png", seed=i, size=(20, 20), fmt="PNG")
    (root / "broken.jpg").write_bytes(b"broken")
    index = tmp_path / "idx"
    script = INGEST_SCRIPT.format(
        tests=str(Path(__file__).parent), index=str(index), root=str(root), store_url=store_url
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": os.getcwd()}
    )
    deadline = time.monotonic() + 60
    while committed_items(index, store_url) < kill_after and proc.poll() is None:
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = committed_items(index, store_url)
    assert 0 < done_before < 120, "the kill must land mid-ingest"

    with Index.open(index, encoder=HashEncoder()) as idx:
        report = idx.ingest()
        assert report.added == 120 - done_before
        assert report.unchanged == done_before
        assert [p for p, _ in report.failed] == ["broken.jpg"]
        rows = idx.store.all_items()
        assert len({r.path for r in rows}) == len(rows) == 121
        ok_ids = sorted(r.id for r in rows if r.status == "ok")
        faiss_ids = idx.vectors.ids().tolist()
        assert faiss_ids == ok_ids and len(ok_ids) == 120
        assert idx.ingest().encoded == 0
