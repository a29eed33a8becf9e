"""The FAISS side of an index: ids are metadata row ids, vectors are unit length (IP = cosine).

Index types, chosen by size unless the user names one:

============  =====================  ==============================================
kind          used for (auto)        why
============  =====================  ==============================================
``flat``      n < 200,000            exact; 100k x 384-d searches in a few ms
``hnsw``      200,000 <= n < 2M      graph search, ~10x faster than flat, exact-ish
``ivfpq``     n >= 2,000,000         compressed codes (dim/8 bytes a vector) fit RAM
============  =====================  ==============================================
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np

from vsearch.atomic import atomic_path

KINDS = ("flat", "hnsw", "ivfpq")
FLAT_MAX = 200_000
HNSW_MAX = 2_000_000
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128
IVF_NPROBE = 16
#: Below this many queries FAISS's work is serial; its OpenMP region then only costs time, a lot of
#: it when other processes keep the cores busy (measured: 10 ms vs 70 ms at 100k on 2 busy cores).
SERIAL_QUERIES = 16


@contextmanager
def _omp_threads(count: int) -> Iterator[None]:
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def choose_kind(n: int, requested: str = "auto") -> str:
    """The index kind for ``n`` vectors: ``requested`` unless it is ``auto``."""
    if requested != "auto":
        if requested not in KINDS:
            raise ValueError(f"unknown index kind {requested!r}; valid: auto, {', '.join(KINDS)}")
        return requested
    if n < FLAT_MAX:
        return "flat"
    return "hnsw" if n < HNSW_MAX else "ivfpq"


def _ivfpq(dim: int, n: int) -> faiss.Index:
    # FAISS wants ~39 training points per list; 4*sqrt(n) lists is the usual balance.
    nlist = max(1, min(65536, int(4 * math.sqrt(max(n, 1))), n // 39))
    subquantizers = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m and dim % m == 0)
    index = faiss.IndexIVFPQ(
        faiss.IndexFlatIP(dim), dim, nlist, subquantizers, 8, faiss.METRIC_INNER_PRODUCT
    )
    index.nprobe = IVF_NPROBE
    return index


class VectorIndex:
    """A FAISS index with explicit int64 ids, saved atomically.

    It does not own the vectors: the metadata store does, and ``build`` recreates this from them.
    """

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self.index = index
        self.kind = kind

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(
        cls, kind: str, dim: int, ids: np.ndarray | None = None, vectors: np.ndarray | None = None
    ) -> VectorIndex:
        """A new index of ``kind`` holding ``vectors`` (``(n, dim)`` float32) under ``ids``."""
        n = 0 if ids is None else len(ids)
        if kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efSearch = HNSW_EF_SEARCH
            index = faiss.IndexIDMap2(inner)
        elif kind == "ivfpq":
            index = _ivfpq(dim, n)
            if vectors is None or n < index.nlist * 39:
                raise ValueError(
                    f"an ivfpq index needs at least {index.nlist * 39} vectors to train"
                )
            sample = vectors[np.random.default_rng(0).permutation(n)[: 256 * index.nlist]]
            index.train(np.ascontiguousarray(sample, dtype=np.float32))
        else:
            raise ValueError(f"unknown index kind {kind!r}; valid: {', '.join(KINDS)}")
        built = cls(index, kind)
        if n:
            built.add(ids, vectors)
        return built

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (``(n, dim)`` float32, unit rows) under ``ids`` (``(n,)`` int64)."""
        if len(ids) == 0:
            return
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def remove(self, ids: np.ndarray) -> bool:
        """Remove ``ids``; False when this kind cannot remove (HNSW): rebuild it instead."""
        if len(ids) == 0:
            return True
        try:
            self.index.remove_ids(np.asarray(ids, dtype=np.int64))
        except RuntimeError:
            return False
        return True

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product.

        Returns:
            ``(scores float32 (q, k), ids int64 (q, k))``; missing slots have id -1.
        """
        k = max(1, min(k, len(self))) if len(self) else 1
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        threads = 1 if len(queries) < SERIAL_QUERIES else faiss.omp_get_max_threads()
        with _omp_threads(threads):
            return self.index.search(queries, k)

    def search_among(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product among the vectors whose id is in ``allowed`` (int64).

        Exact for ``flat``. ``hnsw`` and ``ivfpq`` search their graph or probed lists and skip
        ids not allowed, so a sparse ``allowed`` can return fewer than ``k`` (score the stored
        vectors instead).

        Returns:
            ``(scores float32 (q, k), ids int64 (q, k))``; missing slots have id -1.
        """
        k = max(1, min(k, len(allowed), len(self))) if len(self) else 1
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if self.kind == "ivfpq":
            params = faiss.SearchParametersIVF(sel=selector, nprobe=IVF_NPROBE)
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
        else:
            params = faiss.SearchParameters(sel=selector)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        threads = 1 if len(queries) < SERIAL_QUERIES else faiss.omp_get_max_threads()
        with _omp_threads(threads):
            return self.index.search(queries, k, params=params)

    def save(self, path: Path) -> str:
        """Write atomically (see :mod:`vsearch.atomic`); returns the file's sha256."""
        # Serialised in memory and written by Python, whose writes and close report a full disk
        # as an OSError (FAISS's own file writer can leave a short file behind without raising).
        data = faiss.serialize_index(self.index).tobytes()
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return _sha256(data)

    @classmethod
    def load(cls, path: Path, kind: str, *, sha256: str, count: int, dim: int) -> VectorIndex:
        """Read a file written by :meth:`save`, checking it is the one that was written.

        Raises:
            ValueError: the file is missing, damaged, or not the one described (checksum, id
                count or dimension differ); the caller rebuilds it.
        """
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {path.name}: {exc.strerror or exc}") from None
        if _sha256(data) != sha256:
            raise ValueError(f"{path.name} is not the file this index wrote (checksum differs)")
        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as exc:
            raise ValueError(f"{path.name} cannot be read by FAISS: {exc}") from None
        if index.ntotal != count or index.d != dim:
            raise ValueError(
                f"{path.name} holds {index.ntotal} vectors of dim {index.d}, "
                f"expected {count} of dim {dim}"
            )
        return cls(index, kind)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
