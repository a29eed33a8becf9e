"""Ingest and search benchmarks, each printed as a ratio against a baseline run in this process.

1. images/s of the whole ingest pipeline (crawl, hash, decode, prepare, encode, SQLite, FAISS)
   vs images/s of the encoder alone on pre-decoded, pre-prepared inputs   (target >= 0.9x)
2. a second ingest of the unchanged folder as a fraction of the first      (target <= 2%)
3. search latency p50/p99, flat index, 10k and 100k vectors: FAISS alone and with the metadata
   fetch that ``Index.search_vector`` does.

Usage: python bench/bench_ingest.py [--images 240] [--model label-bridge]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from vsearch.encoders import load_encoder
from vsearch.index import Index
from vsearch.ingest.decode import decode_image, read_bytes
from vsearch.store.metadata import MetadataStore
from vsearch.store.models import FolderRow, ItemRow
from vsearch.store.vectors import VectorIndex


def make_photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct 1024x768 JPEGs cut from scikit-image's sample photographs."""
    import skimage

    data = Path(skimage.__file__).parent / "data"
    sources = [
        Image.open(data / n).convert("RGB")
        for n in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png")
    ]
    rng = random.Random(0)
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        src = sources[i % len(sources)]
        w, h = src.size
        cw, ch = rng.randint(w // 2, w), rng.randint(h // 2, h)
        left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
        photo = src.crop((left, top, left + cw, top + ch)).resize(
            (1024, 768), Image.Resampling.BICUBIC
        )
        path = folder / f"photo{i:04d}.jpg"
        photo.save(path, quality=90)
        paths.append(path)
    return paths


def encoder_alone(encoder, paths: list[Path]) -> float:
    prepared = [
        encoder.prepare(decode_image(read_bytes(p), max_side=encoder.max_image_side).item)
        for p in paths
    ]
    encoder.embed_batch(prepared[: encoder.batch_size], None)  # warm-up
    start = time.perf_counter()
    for i in range(0, len(prepared), encoder.batch_size):
        encoder.embed_batch(prepared[i : i + encoder.batch_size], "Represent the given image.")
    return len(paths) / (time.perf_counter() - start)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.array(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def search_latency(n: int, dim: int, folder: Path, queries: int = 300) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex.build("flat", dim, np.arange(1, n + 1), vectors)
    store = MetadataStore(f"sqlite:///{folder / f'bench-{n}.sqlite'}")
    store.create({})
    now = datetime.now()
    with store.transaction() as session:
        session.add(FolderRow(id=1, path="photos", excludes=[], added_at=now))
        session.flush()
        session.add_all(
            ItemRow(
                id=i,
                folder_id=1,
                path=f"p/{i}.jpg",
                kind="image",
                size=1,
                mtime_ns=1,
                indexed_at=now,
            )
            for i in range(1, n + 1)
        )
    q = rng.standard_normal((queries, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    faiss_only, with_rows = [], []
    for row in q:
        t0 = time.perf_counter()
        _, ids = index.search(row[None, :], 10)
        t1 = time.perf_counter()
        store.items_by_id(int(i) for i in ids[0])
        t2 = time.perf_counter()
        faiss_only.append(t1 - t0)
        with_rows.append(t2 - t0)
    p50, p99 = percentiles(faiss_only)
    r50, r99 = percentiles(with_rows)
    print(
        f"search flat n={n:>6}: FAISS p50 {p50:6.2f} ms  p99 {p99:6.2f} ms | "
        f"+ metadata p50 {r50:6.2f} ms  p99 {r99:6.2f} ms  (ratio p50 {r50 / p50:.2f}x)"
    )
    store.close()


def pipeline_run(encoder, photos: Path, folder: Path) -> tuple[float, float]:
    """Seconds of a first ingest of ``photos`` into a new index, and of an unchanged rerun."""
    with Index.create(folder, encoder=encoder) as index:
        start = time.perf_counter()
        first = index.ingest(photos)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        second = index.ingest()
        second_s = time.perf_counter() - start
    assert first.failed == [] and second.encoded == 0
    return first_s, second_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best is kept")
    parser.add_argument("--model", default="label-bridge")
    args = parser.parse_args()
    encoder = load_encoder(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_photos(folder / "photos", args.images)
        alone, runs = [], []
        for round_ in range(args.rounds):  # alternate, so load from elsewhere hits both alike
            alone.append(encoder_alone(encoder, paths))
            runs.append(pipeline_run(encoder, folder / "photos", folder / f"idx{round_}"))
        best_alone = max(alone)
        first_s, second_s = min(runs)
        pipeline = args.images / first_s
        print(
            f"model {encoder.identity.model_id}, {args.images} JPEGs 1024x768, "
            f"batch {encoder.batch_size}, best of {args.rounds} alternating rounds"
        )
        print(
            f"encoder alone (pre-decoded): {best_alone:7.1f} images/s   "
            f"(rounds: {', '.join(f'{a:.1f}' for a in alone)})"
        )
        print(
            f"ingest pipeline end to end:  {pipeline:7.1f} images/s   "
            f"ratio {pipeline / best_alone:.2f}x (target >= 0.9x)   "
            f"(rounds: {', '.join(f'{args.images / r[0]:.1f}' for r in runs)})"
        )
        print(
            f"unchanged re-ingest: {second_s * 1000:.0f} ms vs first {first_s * 1000:.0f} ms "
            f"= {100 * second_s / first_s:.2f}% (target <= 2%)"
        )
        for n in (10_000, 100_000):
            search_latency(n, encoder.dim, folder)


if __name__ == "__main__":
    main()
