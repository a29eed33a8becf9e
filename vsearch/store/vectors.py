"""The FAISS side of an index: ids are metadata row ids, vectors are unit length (IP = cosine).

An index is a *base* (a FAISS index of the kind below, memory-mapped from ``vectors.faiss`` when
it was read from disk, never changed after that) plus a *delta*: a small exact index of the
vectors added since the base was written, and the base ids hidden since (removed, or superseded
by a delta vector). A save writes only the delta (``vectors.delta.npz``) while it is small, so
ingesting ten files does not rewrite a 1.7 GB file, and removing an item from a graph index
costs no rebuild; the catalog compacts (rebuilds the base from the store) once the delta passes
``compaction_due``.

Index types, chosen by size unless the user names one:

============  ==========================  =================================================
kind          used for (auto)             why
============  ==========================  =================================================
``flat``      n < 20,000                  exact; a few ms a query at that size
``ivf``       up to 4 GiB of vectors      inverted lists of the exact vectors: sub-ms to a
                                          few ms, cheap to build, and compacted in place
``ivfpq``     more than that              compressed codes (dim/8 bytes a vector) fit RAM;
                                          the candidates are re-ranked on exact vectors
``hnsw``      where ivf scans > 10%       a graph: fast on spread-out neighbours, slow to
                                          build; it takes new ids in place but cannot drop
                                          a node (rebuilt at 20% hidden)
============  ==========================  =================================================

The approximate kinds are tuned when built: the cheapest search setting (nprobe, efSearch,
re-rank depth) whose recall@10 on a sample of the index's own vectors reaches the target
(:mod:`vsearch.store.tuning`) is kept with the index, with the recall it measured.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from vsearch.atomic import atomic_path
from vsearch.store import tuning
from vsearch.store.tuning import Tuning

KINDS = ("flat", "ivf", "hnsw", "ivfpq")
FLAT_MAX = 20_000
#: Past this many bytes of float32 vectors the automatic choice stores compressed codes.
EXACT_BYTES_MAX = 4 << 30
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
#: FAISS wants at least 39 training points per inverted list; more train better, cost more.
IVF_TRAIN_PER_LIST = 64
IVF_TRAIN_ITERATIONS = 10
#: An automatic IVF index that must search more than this share of its lists to reach its recall
#: target is replaced by an HNSW graph, which finds such spread-out neighbours at a fraction of
#: the cost (measured: 30% of the lists at 100k clustered vectors vs efSearch 16) but takes
#: ~15x longer to build.
IVF_SCAN_MAX = 0.1
#: Fewer vectors than this cannot train the kind (PQ wants 39 per each of its 256 codes).
TRAIN_MIN = {"ivf": 1_000, "ivfpq": 10_000}
#: An IVF index is retrained (rebuilt) once it holds this many times more or fewer vectors than
#: it was trained on: its lists are sized for that count.
RETRAIN_GROWTH = 4
#: Below this many queries FAISS's work is serial; its OpenMP region then only costs time, a lot of
#: it when other processes keep the cores busy (measured: 10 ms vs 70 ms at 100k on 2 busy cores).
SERIAL_QUERIES = 16
#: The delta is compacted into a new base once it holds this share of the base's vectors
#: (added plus hidden), at least DELTA_MIN and at most DELTA_MAX of them: every query searches
#: the delta exactly (4096 vectors of 384-d: about a millisecond), a compaction reads and
#: writes the base.
DELTA_SHARE = 0.05
DELTA_MIN = 4096
DELTA_MAX = 32_768
#: A graph (which cannot drop nodes) is rebuilt once this share of its nodes is hidden.
DEAD_SHARE = 0.2
BASE_NAME = "vectors.faiss"
DELTA_NAME = "vectors.delta.npz"
_HASH_CHUNK = 1 << 24
log = logging.getLogger(__name__)
_ADD_CHUNK = 65_536

#: ``exact(ids) -> {id: (dim,) float32}``: the exact vectors of the ids an ivfpq search found,
#: for re-ranking them (the catalog reads them from the store); an id it lacks is dropped.
ExactVectors = Callable[[np.ndarray], dict[int, np.ndarray]]
#: ``added(n)`` after each chunk of ``n`` vectors is added to a new base.
Added = Callable[[int], None]


@contextmanager
def _omp_threads(count: int) -> Iterator[None]:
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(count)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


def choose_kind(n: int, requested: str = "auto", *, dim: int = 384) -> str:
    """The index kind for ``n`` vectors of ``dim``: ``requested`` unless it is ``auto``, or
    ``flat`` while a requested IVF kind has too few vectors to train on."""
    if requested != "auto":
        if requested not in KINDS:
            raise ValueError(f"unknown index kind {requested!r}; valid: auto, {', '.join(KINDS)}")
        return "flat" if n < TRAIN_MIN.get(requested, 0) else requested
    if n < FLAT_MAX:
        return "flat"
    return "ivf" if n * dim * 4 <= EXACT_BYTES_MAX else "ivfpq"


def suits(wanted: str, kind: str) -> bool:
    """Whether an index of ``kind`` serves where :func:`choose_kind` wants ``wanted``: the same
    kind, or the graph that replaced an IVF index (see :meth:`VectorIndex.build_auto`)."""
    return kind == wanted or (wanted, kind) == ("ivf", "hnsw")


def ivf_lists(n: int) -> int:
    """Inverted lists for ``n`` vectors: 2*sqrt(n) (a few hundred vectors each at 1M), no more
    than ``n / 39`` so that each list has its training points."""
    return max(1, min(65_536, int(2 * math.sqrt(max(n, 1))), n // 39))


def _new_base(kind: str, dim: int, vectors: np.ndarray | None) -> faiss.Index:
    n = 0 if vectors is None else len(vectors)
    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        return faiss.IndexIDMap2(inner)
    if kind not in ("ivf", "ivfpq"):
        raise ValueError(f"unknown index kind {kind!r}; valid: {', '.join(KINDS)}")
    nlist = ivf_lists(n)
    if vectors is None or n < nlist * 39 or n < 39:
        raise ValueError(f"an {kind} index needs at least {max(nlist, 1) * 39} vectors to train")
    quantizer = faiss.IndexFlatIP(dim)
    if kind == "ivf":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    else:
        subquantizers = next(m for m in (dim // 8, dim // 4, dim // 2, dim) if m and dim % m == 0)
        metric = faiss.METRIC_INNER_PRODUCT
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, subquantizers, 8, metric)
    index.cp.niter = IVF_TRAIN_ITERATIONS
    if kind == "ivf":  # its exact vectors by id, for filters (ivfpq's are read from the store)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
    sample = vectors[np.random.default_rng(0).permutation(n)[: IVF_TRAIN_PER_LIST * nlist]]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    return index


class VectorIndex:
    """A FAISS base with explicit int64 ids plus an exact in-memory delta (see the module doc).

    It does not own the vectors: the metadata store does, and ``build`` recreates this from them.
    """

    def __init__(
        self,
        base: faiss.Index,
        kind: str,
        *,
        base_file: dict[str, Any] | None = None,
        tuning: Tuning | None = None,
    ):
        self.base = base
        self.kind = kind
        #: ``{"sha256", "size", "mtime_ns"}`` of the base file this base was read from or
        #: written to; None while the base exists only in memory.
        self.base_file = base_file
        #: The search setting in use and the recall it measured (None: flat, or not tuned yet).
        self.tuning: Tuning | None = None
        self.delta = faiss.IndexIDMap2(faiss.IndexFlatIP(base.d))
        self._hidden = np.zeros(0, np.int64)  # sorted base ids not to return
        self._base_ids: np.ndarray | None = None  # sorted, read from the base on first need
        # IDSelectorNot(IDSelectorBatch(hidden)) and its part: swig keeps no wrapped object alive
        self._exclude: tuple[faiss.IDSelector, faiss.IDSelector] | None = None
        self._adopt(tuning)

    @property
    def dim(self) -> int:
        return int(self.base.d)

    def __len__(self) -> int:
        return int(self.base.ntotal) - len(self._hidden) + int(self.delta.ntotal)

    @property
    def params(self) -> dict[str, int]:
        """The search setting: ``nprobe`` (ivf, ivfpq), ``ef_search`` (hnsw), ``rerank``
        (ivfpq: candidates re-ranked per wanted hit); empty for flat."""
        if self.tuning is not None:
            return dict(self.tuning.params)
        return dict(tuning.UNTUNED.get(self.kind, {}))

    @property
    def delta_size(self) -> int:
        """Vectors in the delta plus base vectors hidden: the work a compaction would fold in."""
        return int(self.delta.ntotal) + len(self._hidden)

    def compaction_due(self) -> bool:
        """Whether the delta has grown past its limit: a graph's hidden nodes stay in it (see
        :meth:`rebuild_due`), so for hnsw only the delta's vectors count."""
        pending = int(self.delta.ntotal) if self.kind == "hnsw" else self.delta_size
        return pending > self._delta_limit()

    def rebuild_due(self) -> bool:
        """Whether the base must be rebuilt from every vector: a graph holding too many hidden
        nodes, or updates, which it cannot replace; inverted lists sized for a count far from
        today's."""
        if self.kind == "hnsw":
            dead = len(self._hidden) > max(DELTA_MIN, DEAD_SHARE * self.base.ntotal)
            updates = np.isin(self._delta_ids(), self.base_ids()).sum() > self._delta_limit()
            return bool(dead or updates)
        if self.kind in ("ivf", "ivfpq") and self.tuning is not None:
            trained = max(1, self.tuning.trained_on)
            return not trained / RETRAIN_GROWTH <= len(self) <= trained * RETRAIN_GROWTH
        return False

    def _delta_limit(self) -> float:
        return max(DELTA_MIN, min(DELTA_MAX, DELTA_SHARE * self.base.ntotal))

    @classmethod
    def build(
        cls,
        kind: str,
        dim: int,
        ids: np.ndarray | None = None,
        vectors: np.ndarray | None = None,
        *,
        target: float = tuning.RECALL_TARGET,
        params: dict[str, int] | None = None,
        added: Added | None = None,
    ) -> VectorIndex:
        """A new index of ``kind`` holding ``vectors`` (``(n, dim)`` float32) under ``ids``,
        its search setting chosen to reach recall@10 ``target`` (or ``params``, measured)."""
        n = 0 if ids is None else len(ids)
        base = _new_base(kind, dim, vectors)
        if n:
            assert ids is not None and vectors is not None
            ids = np.asarray(ids, dtype=np.int64)
            for start in range(0, n, _ADD_CHUNK):
                stop = min(n, start + _ADD_CHUNK)
                base.add_with_ids(
                    np.ascontiguousarray(vectors[start:stop], dtype=np.float32), ids[start:stop]
                )
                if added is not None:
                    added(stop - start)
        built = cls(base, kind)
        if kind != "flat" and n:
            assert ids is not None and vectors is not None
            built.retune(ids, vectors, target=target, params=params)
        return built

    @classmethod
    def build_auto(
        cls,
        kind: str,
        dim: int,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        target: float = tuning.RECALL_TARGET,
        params: Callable[[str], dict[str, int] | None] = lambda kind: None,
        added: Added | None = None,
    ) -> VectorIndex:
        """:meth:`build` for the kind :func:`choose_kind` picked, measured: an IVF index that
        must search more than ``IVF_SCAN_MAX`` of its lists to reach ``target`` is replaced by
        an HNSW graph. ``params(kind)``: fixed settings for that kind, or None."""
        built = cls.build(kind, dim, ids, vectors, target=target, params=params(kind), added=added)
        if kind != "ivf" or params(kind) is not None or built.tuning is None:
            return built
        lists = faiss.extract_index_ivf(built.base).nlist
        if built.params["nprobe"] <= IVF_SCAN_MAX * lists:
            return built
        log.info(
            "ivf needs nprobe %d of %d lists for recall@10 %.2f; building an hnsw graph",
            built.params["nprobe"],
            lists,
            target,
        )
        return cls.build("hnsw", dim, ids, vectors, target=target, params=params("hnsw"))

    def retune(
        self,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        target: float = tuning.RECALL_TARGET,
        params: dict[str, int] | None = None,
    ) -> Tuning:
        """Choose (or, given ``params``, measure) the search setting on a sample of ``vectors``
        (every vector this index holds, under ``ids``) and keep it."""
        sample = tuning.sample_truth(np.asarray(ids, np.int64), vectors)
        order = np.argsort(ids)
        sorted_ids = np.asarray(ids, np.int64)[order]

        def exact(found: np.ndarray) -> dict[int, np.ndarray]:
            rows = order[np.searchsorted(sorted_ids, found)]
            return dict(zip(found.tolist(), vectors[rows], strict=True))

        def search(queries: np.ndarray, k: int, setting: dict[str, int]) -> np.ndarray:
            self._adopt(tuning.Tuning(setting, None, target, 0, len(self)))
            return self.search(queries, k, exact=exact)[1]

        limits = {"nprobe": faiss.extract_index_ivf(self.base).nlist} if "ivf" in self.kind else {}
        chosen = tuning.choose(
            self.kind,
            search,
            sample,
            target=target,
            fixed=params,
            trained_on=len(self),
            limits=limits,
        )
        self._adopt(chosen)
        return chosen

    def _adopt(self, chosen: Tuning | None) -> None:
        """Keep ``chosen`` and set its search setting on the FAISS base (whose own search,
        without a selector, reads it from there)."""
        self.tuning = chosen
        params = self.params
        if "nprobe" in params:
            faiss.extract_index_ivf(self.base).nprobe = params["nprobe"]
        if "ef_search" in params:
            faiss.downcast_index(self.base.index).hnsw.efSearch = params["ef_search"]

    def compacted(self, folder: Path) -> VectorIndex:
        """A new base holding what this index returns, made without a rebuild: the base read
        into memory (from its file in ``folder`` when it has one), the delta added to it and the
        ids it replaces or hides removed. A graph cannot remove nodes: there only the delta's
        new ids are added, and hidden ids and updates stay as they are (see :meth:`rebuild_due`).
        """
        if self.base_file is not None:
            path = folder / BASE_NAME
            if _file_stat(path) != {k: self.base_file[k] for k in ("size", "mtime_ns")}:
                raise ValueError(f"{BASE_NAME} changed since it was read")
            base = faiss.read_index(str(path))
        else:
            base = faiss.clone_index(self.base)
        delta_ids = self._delta_ids()
        if self.kind == "hnsw":
            fresh = delta_ids[~np.isin(delta_ids, self.base_ids())]
            kept = np.setdiff1d(delta_ids, fresh)
        else:
            fresh, kept = delta_ids, delta_ids[:0]
            gone = np.union1d(self._hidden, delta_ids)
            if len(gone):
                base.remove_ids(np.ascontiguousarray(gone, dtype=np.int64))
        if len(fresh):
            base.add_with_ids(self.delta.reconstruct_batch(fresh), fresh)
        compacted = VectorIndex(base, self.kind, tuning=self.tuning)
        if self.kind == "hnsw":
            compacted._hidden = self._hidden.copy()
        if len(kept):
            compacted.delta.add_with_ids(self.delta.reconstruct_batch(kept), kept)
        return compacted

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (``(n, dim)`` float32, unit rows) under ``ids`` (``(n,)`` int64); an id
        already present gets the new vector."""
        if len(ids) == 0:
            return
        ids = np.asarray(ids, dtype=np.int64)
        self.remove(ids)
        self.delta.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: np.ndarray) -> None:
        """Remove ``ids`` (absent ones are ignored): from the delta, and hidden in the base."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if len(ids) == 0:
            return
        in_delta = ids[np.isin(ids, self._delta_ids(), assume_unique=True)]
        if len(in_delta):  # FAISS rebuilds the delta's whole id map on every removal
            self.delta.remove_ids(in_delta)
        base_ids = self.base_ids()
        in_base = ids[np.isin(ids, base_ids, assume_unique=True)]
        if len(in_base):
            self._hidden = np.union1d(self._hidden, in_base)
            self._exclude = None

    def base_ids(self) -> np.ndarray:
        """The ids in the base (hidden ones too), ascending."""
        if self._base_ids is None:
            self._base_ids = np.sort(_ids_of(self.base))
        return self._base_ids

    def _delta_ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.delta.id_map).astype(np.int64)

    def ids(self) -> np.ndarray:
        """Every id this index returns, ascending."""
        live = np.setdiff1d(self.base_ids(), self._hidden, assume_unique=True)
        return np.union1d(live, self._delta_ids())

    def search(
        self, queries: np.ndarray, k: int, *, exact: ExactVectors | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product.

        Args:
            exact: for ``ivfpq``, the source of exact vectors: its ``rerank`` times ``k``
                candidates are then re-scored on them. Without it, the scores are the codes'.

        Returns:
            ``(scores float32 (q, k), ids int64 (q, k))``; missing slots have id -1.
        """
        if self.kind != "ivfpq" or exact is None:
            return self._search(queries, k, None)
        _, ids = self._search(queries, k * self.params.get("rerank", 1), None)
        return _reranked(np.asarray(queries, np.float32), ids, exact, k)

    def search_among(
        self, queries: np.ndarray, k: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` by inner product among the vectors whose id is in ``allowed`` (int64).

        Exact for ``flat``. ``hnsw`` and ``ivfpq`` search their graph or probed lists and skip
        ids not allowed, so a sparse ``allowed`` can return fewer than ``k`` (score
        :meth:`exact_vectors` instead).

        Returns:
            ``(scores float32 (q, k), ids int64 (q, k))``; missing slots have id -1.
        """
        allowed = np.asarray(allowed, dtype=np.int64)
        k = max(1, min(k, len(allowed)))
        return self._search(queries, k, allowed)

    def exact_vectors(self, ids: np.ndarray) -> np.ndarray | None:
        """The vectors stored under ``ids`` (all present), exactly as added; None for
        ``ivfpq``, whose codes are lossy."""
        if self.kind == "ivfpq":
            return None
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.dim), np.float32)
        in_delta = np.isin(ids, self._delta_ids())
        if in_delta.any():
            out[in_delta] = self.delta.reconstruct_batch(ids[in_delta])
        if (~in_delta).any():
            out[~in_delta] = self.base.reconstruct_batch(ids[~in_delta])
        return out

    def _search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, len(self))) if len(self) else 1
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        # A hidden id may be allowed: its current vector is in the delta, not the base.
        in_base = (
            self._excluded() if allowed is None else _batch(np.setdiff1d(allowed, self._hidden))
        )
        in_delta = None if allowed is None else _batch(allowed)
        threads = 1 if len(queries) < SERIAL_QUERIES else faiss.omp_get_max_threads()
        with _omp_threads(threads):
            base_params = None if in_base is None else _params(self.kind, self.params, in_base)
            scores, ids = self.base.search(queries, k, params=base_params)
            if self.delta.ntotal == 0:
                return scores, ids
            delta_params = None if in_delta is None else _params("flat", {}, in_delta)
            more = self.delta.search(queries, k, params=delta_params)
        scores, ids = np.hstack([scores, more[0]]), np.hstack([ids, more[1]])
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)

    def _excluded(self) -> faiss.IDSelector | None:
        """A selector of the base ids not hidden; None when none is hidden."""
        if not len(self._hidden):
            return None
        if self._exclude is None:
            hidden = _batch(self._hidden)
            self._exclude = (faiss.IDSelectorNot(hidden), hidden)
        return self._exclude[0]

    # ---- files -----------------------------------------------------------------------------

    def save(self, folder: Path, *, base: bool = False) -> dict[str, Any]:
        """Write the delta, and the base too when it is not on disk yet or ``base`` is True.

        Each file is written atomically (see :mod:`vsearch.atomic`); returns what
        :meth:`load` checks them against.
        """
        if base or self.base_file is None:
            # Serialised in memory and written by Python, whose writes and close report a full
            # disk as an OSError (FAISS's own writer can leave a short file behind silently).
            data = faiss.serialize_index(self.base).tobytes()
            with atomic_path(folder / BASE_NAME) as tmp:
                tmp.write_bytes(data)
            self.base_file = {"sha256": _sha256(data), **_file_stat(folder / BASE_NAME)}
        buffer = io.BytesIO()
        delta_ids = self._delta_ids()
        vectors = np.zeros((0, self.dim), np.float32)
        if len(delta_ids):
            vectors = self.delta.reconstruct_batch(delta_ids)
        np.savez(buffer, ids=delta_ids, vectors=vectors, hidden=self._hidden)
        data = buffer.getvalue()
        with atomic_path(folder / DELTA_NAME) as tmp:
            tmp.write_bytes(data)
        return {"base": self.base_file, "delta": {"sha256": _sha256(data)}}

    @classmethod
    def load(
        cls,
        folder: Path,
        files: dict[str, Any],
        kind: str,
        *,
        count: int,
        dim: int,
        tuned: dict[str, Any] | None = None,
    ) -> VectorIndex:
        """Read what :meth:`save` wrote, checking it is what was written.

        The base is memory-mapped where its kind allows, so opening a large index reads only
        its id map. It is checked by size and modification time, and by its sha256 when
        either differs (a copied folder, say): an in-place change that keeps both slips by.

        Raises:
            ValueError: a file is missing, damaged, or not the one described (checksum, id
                count or dimension differ); the caller rebuilds the index.
        """
        base_path = folder / BASE_NAME
        sha256 = files["base"]["sha256"]
        stat = _file_stat(base_path)
        moved = any(files["base"].get(key) != value for key, value in stat.items())
        if moved and _file_sha256(base_path) != sha256:
            raise ValueError(f"{BASE_NAME} is not the file this index wrote (checksum differs)")
        try:
            base = faiss.read_index(str(base_path), _READ_FLAGS[kind])
        except RuntimeError as exc:
            raise ValueError(f"{BASE_NAME} cannot be read by FAISS: {exc}") from None
        if _file_stat(base_path) != stat:
            raise ValueError(f"{BASE_NAME} changed while it was read")
        loaded = cls(
            base,
            kind,
            base_file={"sha256": sha256, **stat},
            tuning=None if tuned is None else Tuning.from_dict(tuned),
        )
        if files["delta"] is not None:
            loaded._read_delta(folder / DELTA_NAME, files["delta"]["sha256"])
        if len(loaded) != count or base.d != dim:
            raise ValueError(
                f"{BASE_NAME} holds {len(loaded)} vectors of dim {base.d}, "
                f"expected {count} of dim {dim}"
            )
        return loaded

    def _read_delta(self, path: Path, sha256: str) -> None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read {path.name}: {exc.strerror or exc}") from None
        if _sha256(data) != sha256:
            raise ValueError(f"{path.name} is not the file this index wrote (checksum differs)")
        with np.load(io.BytesIO(data)) as delta:
            self.delta.add_with_ids(delta["vectors"].reshape(-1, self.dim), delta["ids"])
            self._hidden = delta["hidden"].astype(np.int64)


#: Flat codes (flat, and HNSW's storage) and inverted lists are mapped, not read, from the file.
_READ_FLAGS = {
    "flat": faiss.IO_FLAG_MMAP_IFC,
    "hnsw": faiss.IO_FLAG_MMAP_IFC,
    "ivf": faiss.IO_FLAG_MMAP,
    "ivfpq": faiss.IO_FLAG_MMAP,
}


def _params(
    kind: str, setting: dict[str, int], selector: faiss.IDSelector
) -> faiss.SearchParameters:
    if kind in ("ivf", "ivfpq"):
        return faiss.SearchParametersIVF(sel=selector, nprobe=setting["nprobe"])
    if kind == "hnsw":
        return faiss.SearchParametersHNSW(sel=selector, efSearch=setting["ef_search"])
    return faiss.SearchParameters(sel=selector)


def _reranked(
    queries: np.ndarray, candidates: np.ndarray, exact: ExactVectors, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's ``candidates`` (-1: none) re-scored on their exact vectors, top ``k``."""
    scores = np.full((len(queries), k), -np.inf, np.float32)
    ids = np.full((len(queries), k), -1, np.int64)
    for row, (query, found) in enumerate(zip(queries, candidates, strict=True)):
        vectors = exact(found[found >= 0])
        if not vectors:
            continue
        known = np.fromiter(vectors, np.int64, len(vectors))
        exact_scores = np.stack(list(vectors.values())) @ query
        order = np.lexsort((known, -exact_scores))[:k]
        scores[row, : len(order)] = exact_scores[order]
        ids[row, : len(order)] = known[order]
    return scores, ids


def _batch(ids: np.ndarray) -> faiss.IDSelector:
    return faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))


def _ids_of(index: faiss.Index) -> np.ndarray:
    """Every id stored in ``index`` (an ``IndexIDMap2`` or an IVF index)."""
    if isinstance(index, faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    lists = faiss.extract_index_ivf(index).invlists
    chunks = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(lists.nlist)
        if lists.list_size(i)
    ]
    return np.concatenate(chunks).astype(np.int64) if chunks else np.zeros(0, np.int64)


def _file_stat(path: Path) -> dict[str, int]:
    try:
        stat = path.stat()
    except OSError as exc:
        raise ValueError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
