"""Vector search at scale through vsearch's own index code, against numpy brute force (what
rclip does) run side by side in the same process.

For each size (10k, 100k; 1M with ``--million``) it builds clustered 384-d unit vectors
(1,000 Gaussian clusters that vary along 24 directions each, plus noise: neighbours are not
trivially one cluster) and 200 queries near the data, then prints per index kind: build time
(tuning included), the RSS the index added, single-query p50 / p99, batched QPS, recall@10
against exact search, p50 as a ratio of numpy's, and the cost of removing 1 and 1,000 items
(the removal plus the delta write a save does) and of the compaction that folds a 5% delta
(half removals, half new vectors) into the base, in place (no kind is rebuilt for it).

``ivfpq`` re-ranks its candidates on exact vectors; here they come from the in-memory array
(in an index they come from the store, a few SQLite row reads more).

Usage: python bench/bench_scale.py [--million] [--sizes 10000,100000] [--kinds auto,flat,...]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from vsearch.store.vectors import VectorIndex, choose_kind

DIM = 384
QUERIES = 200
K = 10


def clustered(n: int, seed: int = 0, clusters: int = 1000, rank: int = 24) -> np.ndarray:
    """``n`` unit vectors: cluster centre + a spread of 2.0 along ``rank`` directions of the
    cluster + isotropic noise of 0.8 (norms before normalising)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    directions = rng.standard_normal((clusters, rank, DIM), dtype=np.float32) / np.sqrt(DIM)
    labels = rng.integers(0, clusters, n)
    out = centres[labels]
    out += 0.8 * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
    for cluster in range(clusters):
        rows = np.flatnonzero(labels == cluster)
        spread = rng.standard_normal((len(rows), rank), dtype=np.float32) * (2.0 / np.sqrt(rank))
        out[rows] += spread @ directions[cluster]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def near(data: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = data[rng.integers(0, len(data), count)]
    moved = picked + 0.3 * rng.standard_normal(picked.shape, dtype=np.float32) / np.sqrt(DIM)
    # float32 like the data: a float64 query would make numpy convert all the data each time
    return (moved / np.linalg.norm(moved, axis=1, keepdims=True)).astype(np.float32)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def numpy_top(data: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = data @ query
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def timings(search, queries: np.ndarray) -> tuple[float, float]:
    """p50 and p99 in ms of one query at a time."""
    samples = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        samples.append(time.perf_counter() - started)
    return float(np.median(samples) * 1e3), float(np.percentile(samples, 99) * 1e3)


def removal_costs(
    index: VectorIndex, ids: np.ndarray, vectors: np.ndarray, folder: Path
) -> dict[str, float]:
    """ms to remove 1 and 1,000 ids and save (the delta), and s to compact a delta of 5% of
    changes (half removals, half new ids) into the base and save it."""
    index.save(folder)
    costs = {}
    rng = np.random.default_rng(2)
    for count in (1, 1000):
        gone = rng.choice(ids, count, replace=False)
        started = time.perf_counter()
        index.remove(gone)
        index.save(folder)
        costs[f"remove {count}"] = (time.perf_counter() - started) * 1e3
    churn = max(1, int(0.025 * len(ids)))  # 2.5% removed, 2.5% new: a 5% delta
    index.remove(rng.choice(ids, churn, replace=False))
    fresh = np.arange(len(ids), len(ids) + churn) + ids.max() + 1
    index.add(fresh, near(vectors, churn, seed=3))
    started = time.perf_counter()
    index.compacted(folder).save(folder)
    costs["compact 5%"] = time.perf_counter() - started
    return costs


def bench_size(n: int, kinds: list[str]) -> None:
    data = clustered(n)
    queries = near(data, QUERIES)
    ids = np.arange(n, dtype=np.int64)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(data)
    _, truth = exact.search(queries, K)
    del exact
    numpy_p50, _ = timings(lambda q: numpy_top(data, q), queries)
    auto = choose_kind(n, dim=DIM)
    print(f"\n## n = {n:,} (by size: {auto}); numpy brute force p50 {numpy_p50:.2f} ms")
    print(
        "| kind | build s | RSS MB | params | tuned recall | p50 ms | p99 ms | QPS batched "
        "| recall@10 | vs numpy | remove 1 ms | remove 1000 ms | compact 5% s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        before = rss_mb()
        started = time.perf_counter()
        try:
            if kind == "auto":  # what an index does: choose_kind, then build_auto measures
                index = VectorIndex.build_auto(auto, DIM, ids, data)
            else:
                index = VectorIndex.build(kind, DIM, ids, data)
        except ValueError as exc:
            print(f"| {kind} | {exc} |")
            continue
        built = time.perf_counter() - started
        added = rss_mb() - before

        def lookup(found: np.ndarray) -> dict[int, np.ndarray]:
            return dict(zip(found.tolist(), data[found], strict=True))

        def one(query: np.ndarray, index: VectorIndex = index) -> np.ndarray:
            return index.search(query[None, :], K, exact=lookup)[1]

        p50, p99 = timings(one, queries)
        started = time.perf_counter()
        _, found = index.search(queries, K, exact=lookup)
        qps = len(queries) / (time.perf_counter() - started)
        recall = np.mean([len(np.intersect1d(f, t)) / K for f, t in zip(found, truth, strict=True)])
        tuned = "exact" if index.tuning is None else f"{index.tuning.recall:.3f}"
        with tempfile.TemporaryDirectory() as folder:
            costs = removal_costs(index, ids, data, Path(folder))
        label = f"auto: {index.kind}" if kind == "auto" else kind
        print(
            f"| {label} | {built:.1f} | {added:.0f} | {index.params or '-'} | {tuned} "
            f"| {p50:.2f} | {p99:.2f} | {qps:.0f} | {recall:.3f} | {numpy_p50 / p50:.1f}x "
            f"| {costs['remove 1']:.1f} | {costs['remove 1000']:.1f} | {costs['compact 5%']:.2f} |",
            flush=True,
        )
        del index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--million", action="store_true", help="add n = 1,000,000")
    parser.add_argument("--kinds", default="auto,flat,ivf,hnsw,ivfpq")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.million:
        sizes.append(1_000_000)
    kinds = list(dict.fromkeys(args.kinds.split(",")))
    for n in sizes:
        bench_size(n, kinds)


if __name__ == "__main__":
    main()
