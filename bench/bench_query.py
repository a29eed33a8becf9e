"""Query benchmarks, each printed as a ratio against a baseline measured in this process.

1. End-to-end query latency p50/p99 on a 10k-item index with the default encoder: parse + embed
   + search + fetch metadata (``vsearch.query.run_query``), for a text, an image and a
   three-part weighted query; baseline: the encoder alone embedding the same text.
2. Search-only latency p50/p99 on 100k items with filters of different selectivity
   (``Index.search_vector(..., filters=...)``: over-fetch + SQL, or the FAISS id selector);
   baseline: the same call unfiltered.
3. Near-duplicate groups over 100k items (``find_duplicates``, 1,000 planted near-copy pairs);
   baseline: reading the 100k vectors from the store, which it must do anyway.

The indexes are filled by inserting rows and random unit vectors straight into the store (what
ingest writes), not by encoding 10k/100k files: the encoder's cost is measured by (1) itself.

Usage: python bench/bench_query.py [--queries 200] [--model label-bridge]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from vsearch.encoders import Item, load_encoder
from vsearch.encoders.instructions import TASKS
from vsearch.index import Index
from vsearch.query import find_duplicates, run_query
from vsearch.store.metadata import vector_to_bytes
from vsearch.store.models import ItemRow, VectorRow

PLANTED_EVERY = 100
MAKES = ["Canon", "Nikon", "Sony", "Fujifilm", "Apple", "Google", "Samsung", "Olympus", "Leica"]
FILTERS = [
    ["kind=image"],  # ~90% pass
    ["Make=Canon"],  # ~11%, EXIF JSON
    ["folder=2019"],  # ~10%
    ["date=2019-05"],  # ~0.8%
    ["size<60KB"],  # ~0.1%
    ["kind=image", "date>=2023-01", "Make=Leica", "width>=4000"],  # ~0.3%, four conditions
]


def dated_path(i: int, taken: datetime) -> str:
    return f"{taken.year}/{taken.month:02d}/img{i:06d}.jpg"


def fill(
    folder: Path,
    encoder,
    n: int,
    photos: Path,
    *,
    path_of: Callable[[int, datetime], str] = dated_path,
    index_kind: str = "auto",
) -> Index:
    """An index of ``n`` synthetic items (rows + random unit vectors) in ``folder``."""
    rng = np.random.default_rng(n)
    vectors = rng.standard_normal((n, encoder.dim)).astype(np.float32)
    planted = n // PLANTED_EVERY  # the last 1% are near-copies (cosine ~0.995) of the first 1%
    noise = rng.standard_normal((planted, encoder.dim)).astype(np.float32)
    vectors[n - planted :] = vectors[:planted] + 0.1 * noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = Index.create(folder, encoder=encoder, index_kind=index_kind)
    with index.catalog.writing() as writer:
        photos_folder = writer.add_folder(photos.resolve())
    start = datetime(2015, 1, 1)
    now = datetime.now()
    rows, vecs = [], []
    for i in range(1, n + 1):
        taken = start + timedelta(hours=int(rng.integers(0, 10 * 365 * 24)))
        make = MAKES[i % len(MAKES)]
        rows.append(
            {
                "id": i,
                "folder_id": photos_folder.id,
                "path": path_of(i, taken),
                "kind": "text" if i % 10 == 0 else "image",
                "size": int(rng.integers(50_000, 10_000_000)),
                "mtime_ns": int(now.timestamp() * 1e9),
                "status": "ok",
                "width": int(rng.choice([1024, 3000, 4032, 6000])),
                "height": 768,
                "taken_at": taken,
                "camera_make": make,
                "exif": {"Make": make, "Model": f"{make} X{i % 7}"},
                "indexed_at": now,
            }
        )
        vecs.append({"item_id": i, "vector": vector_to_bytes(vectors[i - 1])})
    with index.store.transaction() as session:
        session.execute(insert(ItemRow), rows)
        session.execute(insert(VectorRow), vecs)
        index.store.bump_generation(session)
    index.rebuild_vectors()
    return index


def paired(base: Callable[[], object], case: Callable[[], object], repeat: int) -> tuple:
    """p50/p99 (ms) of ``base`` and ``case``, called alternately after one warm-up each.

    Alternating keeps the ratio honest on a shared machine: a burst of load from another process
    slows both sides, not only the one that happened to run then.
    """
    base(), case()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, out in ((base, samples[0]), (case, samples[1])):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return tuple(
        (float(np.percentile(ms, 50)), float(np.percentile(ms, 99)))
        for ms in (np.array(samples[0]) * 1000, np.array(samples[1]) * 1000)
    )


def line(name: str, base: tuple[float, float], got: tuple[float, float]) -> str:
    return (
        f"  {name:<34} p50 {got[0]:8.2f} ms  p99 {got[1]:8.2f} ms | baseline p50 {base[0]:7.2f} "
        f"p99 {base[1]:7.2f} | ratio p50 {got[0] / base[0]:5.2f}x  p99 {got[1] / base[1]:5.2f}x"
    )


def query_latency(encoder, folder: Path, photo: Path, repeat: int) -> None:
    with fill(folder / "idx10k", encoder, 10_000, photo.parent) as index:
        text = "a dog playing in the snow"
        instruction = TASKS["retrieval"].query
        print(
            f"1. end-to-end query, 10k items, {encoder.identity.model_id}, k=10; "
            "baseline: the encoder alone embedding the text"
        )
        cases = {
            "text query": [text],
            "image query": [str(photo)],
            "weighted: 2:text + image - text": [f"2:{text}", "+", str(photo), "-", "fruit"],
        }
        for name, tokens in cases.items():
            base, got = paired(
                lambda: encoder.encode([Item(text=text)], instruction),
                lambda t=tokens: run_query(index, t, k=10),
                repeat,
            )
            print(line(name, base, got))


def filtered_latency(encoder, folder: Path, photos: Path, repeat: int) -> None:
    with fill(folder / "idx100k", encoder, 100_000, photos) as index:
        queries = np.random.default_rng(1).standard_normal((repeat + 2, encoder.dim))
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)

        def search(filters):
            it = iter(queries)
            return lambda: index.search_vector(next(it), k=10, filters=filters)

        print(
            f"2. search only (FAISS {index.vectors.kind} + metadata), 100k items, k=10; "
            "baseline: the same search unfiltered"
        )
        for filters in FILTERS:
            base, got = paired(search(None), search(filters), repeat)
            passing = len(index.search_vector(queries[0], k=100_000, filters=filters))
            print(line(f"{' '.join(filters)} ({passing / 1000:.1f}%)", base, got))
        t0 = time.perf_counter()
        list(index.store.iter_vectors())
        read = time.perf_counter() - t0
        t0 = time.perf_counter()
        groups = find_duplicates(index, threshold=0.95)
        dupes = time.perf_counter() - t0
        print("3. near-duplicate groups, 100k items")
        found = sum(1 for g in groups if len(g) == 2)
        print(
            f"  read the vectors {read:.2f} s; find_duplicates {dupes:.2f} s, ratio "
            f"{dupes / read:.1f}x; found {found} of {100_000 // PLANTED_EVERY} planted pairs, "
            f"{len(groups) - found} other groups"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default=None, help="default: the default model")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    encoder.encode([Item(text="warm-up")])
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}")
    photo = Path(__file__).resolve().parents[1] / "tests" / "data" / "cat.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        query_latency(encoder, Path(tmp), photo, args.queries)
        filtered_latency(encoder, Path(tmp), photo.parent, args.queries)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
