"""Search parameters chosen by measured recall: a sample of an index's own vectors is searched
exactly and approximately, and the cheapest setting that finds ``target`` of the true top 10 wins.

Each sampled vector is a query whose own id is left out of both answers, so the measure is how
well the index finds a stored item's neighbours, not that it finds the item itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

RECALL_K = 10
RECALL_TARGET = 0.95
SAMPLE_QUERIES = 128

#: Settings tried cheapest first; the first that reaches the target is kept.
LADDERS: dict[str, list[dict[str, int]]] = {
    "ivf": [{"nprobe": p} for p in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)],
    "hnsw": [{"ef_search": e} for e in (16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024)],
    "ivfpq": [
        {"nprobe": p, "rerank": r} for p in (4, 8, 16, 32, 64, 128, 256) for r in (4, 16, 64)
    ],
}

#: The settings of an index saved before tuning existed (the fixed ones of that time).
UNTUNED: dict[str, dict[str, int]] = {
    "ivf": {"nprobe": 16},
    "hnsw": {"ef_search": 128},
    "ivfpq": {"nprobe": 16, "rerank": 4},
}

#: ``search(queries, k, params) -> ids (q, k)`` for one setting of the index being tuned.
Searcher = Callable[[np.ndarray, int, dict[str, int]], np.ndarray]


@dataclass
class Tuning:
    """What was chosen and what it measured; recorded beside the index and shown by ``info``."""

    params: dict[str, int]
    recall: float | None  # recall@10 on the sample; None where it was not measured (flat)
    target: float
    queries: int
    trained_on: int  # vectors the index held when it was built (IVF lists are sized for it)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": dict(self.params),
            "recall_at_10": self.recall,
            "target": self.target,
            "queries": self.queries,
            "trained_on": self.trained_on,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tuning:
        return cls(
            params={str(k): int(v) for k, v in data.get("params", {}).items()},
            recall=data.get("recall_at_10"),
            target=float(data.get("target", RECALL_TARGET)),
            queries=int(data.get("queries", 0)),
            trained_on=int(data.get("trained_on", 0)),
        )


def sample_truth(
    ids: np.ndarray, vectors: np.ndarray, queries: int = SAMPLE_QUERIES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sampled queries, their ids, and each one's exact top ``RECALL_K`` ids but itself."""
    import faiss  # the manifest reads this module's constants without loading FAISS

    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(ids), size=min(queries, len(ids)), replace=False))
    sample = np.ascontiguousarray(vectors[picked], dtype=np.float32)
    # Brute force over the caller's array itself: an IndexFlatIP would copy all of it (1.5 GB
    # at 1M x 384) while the index being tuned holds it too.
    database = np.ascontiguousarray(vectors, dtype=np.float32)
    _, positions = faiss.knn(sample, database, RECALL_K + 1, metric=faiss.METRIC_INNER_PRODUCT)
    truth = _without_self(np.where(positions >= 0, ids[positions], -1), ids[picked])
    return sample, ids[picked], truth


def recall_of(found: np.ndarray, query_ids: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true neighbours in ``found`` (its own id dropped)."""
    found = _without_self(found, query_ids)
    hits = [len(np.intersect1d(f[f >= 0], t[t >= 0])) for f, t in zip(found, truth, strict=True)]
    wanted = max(1, int((truth >= 0).sum()))
    return float(sum(hits) / wanted)


def choose(
    kind: str,
    search: Searcher,
    sample: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    target: float = RECALL_TARGET,
    fixed: dict[str, int] | None = None,
    trained_on: int,
    limits: dict[str, int] | None = None,
) -> Tuning:
    """The cheapest setting of ``kind`` whose recall@10 on ``sample`` reaches ``target``, or the
    costliest one tried when none does; ``fixed`` settings are measured, not searched for."""
    queries, query_ids, truth = sample
    ladder: Iterable[dict[str, int]] = [fixed] if fixed else _capped(LADDERS[kind], limits or {})
    best: tuple[dict[str, int], float] | None = None
    for params in ladder:
        recall = recall_of(search(queries, RECALL_K + 1, params), query_ids, truth)
        best = (params, recall)
        if recall >= target:
            break
    assert best is not None
    return Tuning(best[0], round(best[1], 4), target, len(query_ids), trained_on)


def _capped(ladder: list[dict[str, int]], limits: dict[str, int]) -> list[dict[str, int]]:
    """The ladder with each setting held to ``limits`` (nprobe to the number of lists)."""
    kept: list[dict[str, int]] = []
    for params in ladder:
        held = {key: min(value, limits.get(key, value)) for key, value in params.items()}
        if held not in kept:
            kept.append(held)
    return kept


def _without_self(found: np.ndarray, query_ids: np.ndarray) -> np.ndarray:
    """Each row's first ``RECALL_K`` ids that are not the query's own."""
    rows = []
    for row, own in zip(found, query_ids, strict=True):
        rest = row[row != own][:RECALL_K]
        rows.append(np.pad(rest, (0, RECALL_K - len(rest)), constant_values=-1))
    return np.asarray(rows, dtype=np.int64).reshape(len(query_ids), RECALL_K)
