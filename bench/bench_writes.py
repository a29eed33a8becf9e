"""Items/s writing metadata + vector rows through the store, as ingest writes them (issue 18).

Each run writes ``n`` new files (a row with photo facts and EXIF, and a 384-d vector) through
``Catalog.writing()`` and ``Writer.batch()``: the lock, the transactions, the generation bumps,
the FAISS delta of each commit and the save at the end, on a fresh SQLite index whose kind is
fixed to ``flat`` (so no HNSW build is timed: that is the vector index's own benchmark).

Three ways, side by side in this process:

- ``per-row/32``: the path before issue 18 (main at 5876670), copied below: an ORM ``get``, a
  ``flush`` for the new id and a ``merge`` of the vector per file, a transaction per encoder
  batch (32 files, the default encoder's batch);
- ``executemany/32``: ``Changes.index_files``, a transaction per encoder batch: what ingest
  writes behind an encoder slower than a batch per ``WRITE_SECONDS``;
- ``executemany/1000``: the same in transactions of ``WRITE_ROWS`` files: what ingest gathers
  behind a fast encoder.

Usage: python bench/bench_writes.py [--sizes 10000,100000] [--baseline-up-to 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from vsearch.encoders.base import EncoderIdentity
from vsearch.ingest.pipeline import WRITE_ROWS
from vsearch.store.catalog import Catalog
from vsearch.store.changes import FACT_COLUMNS, Changes, FileFacts, IndexedFile
from vsearch.store.metadata import vector_to_bytes
from vsearch.store.models import STATUS_OK, ItemRow, VectorRow

DIM = 384
ENCODER_BATCH = 32

Write = Callable[[Changes, list[IndexedFile]], None]


def per_row(changes: Changes, files: list[IndexedFile]) -> None:
    """``Changes.index_file`` as it was before issue 18, once per file."""
    session = changes.session
    for f in files:
        row = session.get(ItemRow, f.item_id) if f.item_id is not None else None
        before = None if row is None else row.status
        if row is None:
            row = ItemRow(folder_id=f.file.folder_id, path=f.file.path)
            session.add(row)
        row.kind, row.size, row.mtime_ns = f.file.kind, f.file.size, f.file.mtime_ns
        row.content_hash, row.status, row.error = f.digest, STATUS_OK, None
        row.indexed_at = datetime.now()
        for name in FACT_COLUMNS:
            setattr(row, name, f.facts.get(name))
        session.flush()
        session.merge(VectorRow(item_id=row.id, vector=vector_to_bytes(f.vector)))
        if before == STATUS_OK:
            changes.delta.dropped.add(row.id)
        changes.delta.added[row.id] = np.asarray(f.vector, np.float32)


def executemany(changes: Changes, files: list[IndexedFile]) -> None:
    changes.index_files(files)


def photo_facts(i: int) -> dict[str, Any]:
    return {
        "width": 4032,
        "height": 3024,
        "taken_at": datetime(2024, 5, 1 + i % 28, 12, i % 60),
        "camera_make": "Canon",
        "camera_model": "EOS R6",
        "gps_lat": 48.85 + i * 1e-6,
        "gps_lon": 2.35,
        "exif": {"ExposureTime": "1/250", "FNumber": 4.0, "ISOSpeedRatings": 200, "Orientation": 1},
    }


def write_run(n: int, write: Write, per_transaction: int, vectors: np.ndarray) -> float:
    """Seconds to write ``n`` new files through a fresh index's writer."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        identity = EncoderIdentity("bench", "0", DIM, "mean")
        catalog = Catalog.create(folder / "idx", identity=identity, facts={}, index_kind="flat")
        (folder / "photos").mkdir()
        try:
            started = time.perf_counter()
            with catalog.writing() as writer:
                photos = writer.add_folder(folder / "photos")
                for start in range(0, n, per_transaction):
                    files = [
                        IndexedFile(
                            None,
                            FileFacts(
                                photos.id,
                                f"2024/05/IMG_{i:07d}.jpg",
                                "image",
                                3_000_000 + i,
                                10**18 + i,
                            ),
                            f"{i:064x}",
                            photo_facts(i),
                            vectors[i],
                        )
                        for i in range(start, min(n, start + per_transaction))
                    ]
                    with writer.batch() as changes:
                        write(changes, files)
            seconds = time.perf_counter() - started
            assert catalog.count() == n and len(catalog.vectors()) == n
        finally:
            catalog.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--baseline-up-to", type=int, default=100_000, help="run per-row only up to this size"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((max(sizes), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ways: list[tuple[str, Write, int]] = [
        ("per-row/32 (before)", per_row, ENCODER_BATCH),
        (f"executemany/{ENCODER_BATCH}", executemany, ENCODER_BATCH),
        (f"executemany/{WRITE_ROWS}", executemany, WRITE_ROWS),
    ]
    print(f"{'n':>8}  {'way':<22} {'seconds':>8} {'items/s':>9} {'vs before':>10}")
    for n in sizes:
        baseline = None
        for name, write, per_transaction in ways:
            if write is per_row and n > args.baseline_up_to:
                continue
            rate = n / write_run(n, write, per_transaction, vectors)
            if write is per_row:
                baseline = rate
            ratio = f"{rate / baseline:.1f}x" if baseline else "-"
            print(f"{n:>8}  {name:<22} {n / rate:>8.1f} {rate:>9.0f} {ratio:>10}", flush=True)


if __name__ == "__main__":
    main()
