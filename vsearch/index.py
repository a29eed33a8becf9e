"""The Index facade: what the CLI and Python users share.

An index is a folder: ``vsearch.json`` (manifest), ``metadata.sqlite`` (the source of truth:
items, raw vectors, facts) and ``vectors.faiss`` (derived, rebuilt whenever it is stale).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import delete, update

from vsearch.encoders.base import Encoder, EncoderIdentity, Item
from vsearch.encoders.instructions import DOCUMENT_INSTRUCTIONS
from vsearch.encoders.registry import load_encoder
from vsearch.errors import EncoderMismatch, IndexNotFound, VsearchError
from vsearch.ingest.pipeline import IngestOptions, IngestReport, IngestRun, Progress
from vsearch.manifest import MANIFEST_NAME, Manifest
from vsearch.query.filters import Filters, as_filters
from vsearch.query.search import filtered_search, instruction_for, load_image
from vsearch.store.metadata import MetadataStore
from vsearch.store.models import STATUS_OK, STATUS_PENDING, ItemRow, VectorRow
from vsearch.store.vectors import VectorIndex, choose_kind

DB_NAME = "metadata.sqlite"
FAISS_NAME = "vectors.faiss"
LOCK_NAME = "ingest.lock"


@dataclass(frozen=True)
class Hit:
    """One search result. ``path`` is relative to the ingested root; ``abspath`` is on disk."""

    id: int
    path: str
    abspath: Path
    score: float
    kind: str
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "abspath": str(self.abspath),
            "score": round(self.score, 6),
            "kind": self.kind,
            **self.metadata,
        }


def _hit_metadata(row: ItemRow) -> dict[str, Any]:
    data = {
        "size": row.size,
        "mtime": row.mtime_ns / 1e9,
        "width": row.width,
        "height": row.height,
        "taken_at": row.taken_at.isoformat() if row.taken_at else None,
        "camera_make": row.camera_make,
        "camera_model": row.camera_model,
        "gps_lat": row.gps_lat,
        "gps_lon": row.gps_lon,
        "text": row.text[:300] if row.text else None,
        "content_hash": row.content_hash,
    }
    return {k: v for k, v in data.items() if v is not None}


class Index:
    """A searchable, incrementally synchronised index of one folder.

    It does not watch the folder (call ``ingest`` again to sync), and it does not let two
    processes ingest into it at the same time.
    """

    def __init__(self, folder: Path, manifest: Manifest, store: MetadataStore) -> None:
        self.folder = folder
        self.manifest = manifest
        self.store = store
        self._encoder: Encoder | None = None
        self._encoder_options: dict[str, Any] = {}
        self._vectors: VectorIndex | None = None

    # ---- opening ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        encoder: Encoder | str | None = None,
        store_url: str | None = None,
        index_kind: str = "auto",
    ) -> Index:
        """Create an empty index at ``path`` for ``encoder`` (default: the default model)."""
        folder = Path(path).expanduser()
        if (folder / MANIFEST_NAME).exists():
            raise VsearchError(f"an index already exists at {folder}; open it instead")
        choose_kind(0, index_kind)  # validates the name
        enc = encoder if isinstance(encoder, Encoder) else load_encoder(encoder)
        manifest = Manifest(encoder=enc.identity, store_url=store_url, index_kind=index_kind)
        folder.mkdir(parents=True, exist_ok=True)
        store = MetadataStore(store_url or _sqlite_url(folder))
        store.create(
            {
                "encoder": enc.identity.to_dict(),
                "encoder_spec": enc.spec or enc.identity.model_id,
                "instructions": DOCUMENT_INSTRUCTIONS,
            }
        )
        manifest.save(folder)
        index = cls(folder, manifest, store)
        index._encoder = enc
        return index

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        encoder: Encoder | str | None = None,
        reindex: bool = False,
        **encoder_options: Any,
    ) -> Index:
        """Open the index at ``path``.

        Args:
            path: the index folder.
            encoder: the encoder to use (an Encoder or a model spec); None loads the one the
                index was built with.
            reindex: accept an encoder that differs from the index's and re-embed every item
                with it on the next ``ingest``.
            **encoder_options: options for ``load_encoder`` (device, dtype, batch_size).

        Raises:
            IndexNotFound, SchemaVersionError, EncoderMismatch.
        """
        folder = Path(path).expanduser()
        manifest = Manifest.load(folder)
        store = MetadataStore(manifest.store_url or _sqlite_url(folder))
        store.check_schema(str(folder))
        index = cls(folder, manifest, store)
        index._encoder_options = encoder_options
        if encoder is not None:
            enc = (
                encoder
                if isinstance(encoder, Encoder)
                else load_encoder(encoder, **encoder_options)
            )
            if enc.identity != index.identity:
                if not reindex:
                    raise EncoderMismatch(index._mismatch_message(enc))
                index._start_reindex(enc)
            index._encoder = enc
        elif reindex:
            index._start_reindex(index.encoder)
        return index

    @classmethod
    def open_or_create(
        cls,
        path: str | os.PathLike[str],
        *,
        encoder: Encoder | str | None = None,
        reindex: bool = False,
        **encoder_options: Any,
    ) -> Index:
        """Open the index at ``path``, or create it for ``encoder`` when there is none."""
        if (Path(path).expanduser() / MANIFEST_NAME).exists():
            return cls.open(path, encoder=encoder, reindex=reindex, **encoder_options)
        if isinstance(encoder, str) or encoder is None:
            encoder = load_encoder(encoder, **encoder_options)
        return cls.create(path, encoder=encoder)

    # ---- encoder ---------------------------------------------------------------------------

    @property
    def identity(self) -> EncoderIdentity:
        """The encoder identity the vectors were made with, read from the store."""
        return EncoderIdentity.from_dict(self.store.get_meta("encoder"))

    @property
    def encoder(self) -> Encoder:
        """The index's encoder, loaded on first use and checked against the recorded identity."""
        if self._encoder is None:
            spec = self.store.get_meta("encoder_spec") or self.identity.model_id
            enc = load_encoder(spec, **self._encoder_options)
            if enc.identity != self.identity:
                raise EncoderMismatch(self._mismatch_message(enc))
            self._encoder = enc
        return self._encoder

    def _mismatch_message(self, enc: Encoder) -> str:
        return (
            f"index at {self.folder} was built with {self.identity.describe()}; "
            f"encoder {enc.identity.describe()} differs. "
            "Re-run `vsearch ingest --reindex` to re-embed everything with the new model."
        )

    def _start_reindex(self, enc: Encoder) -> None:
        """Drop every vector and mark every indexed item pending, in one transaction."""
        with self.store.transaction() as session:
            session.execute(delete(VectorRow))
            session.execute(
                update(ItemRow).where(ItemRow.status == STATUS_OK).values(status=STATUS_PENDING)
            )
            self.store.set_meta("encoder", enc.identity.to_dict(), session)
            self.store.set_meta("encoder_spec", enc.spec or enc.identity.model_id, session)
            self.store.set_meta("instructions", DOCUMENT_INSTRUCTIONS, session)
            self.store.bump_generation(session)
        self.manifest.encoder = enc.identity
        self.manifest.save(self.folder)
        self._vectors = None

    # ---- the FAISS side --------------------------------------------------------------------

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index, loaded from disk, or rebuilt from the store when stale."""
        if self._vectors is None:
            path = self.folder / FAISS_NAME
            generation = self.store.get_meta("generation")
            kind = self.store.get_meta("faiss_kind")
            if path.exists() and kind and self.store.get_meta("faiss_generation") == generation:
                self._vectors = VectorIndex.load(path, kind)
            else:
                self.rebuild_vectors()
        assert self._vectors is not None
        return self._vectors

    def rebuild_vectors(self) -> None:
        """Recreate the FAISS index from the stored vectors and save it."""
        generation = self.store.get_meta("generation")
        chunks = list(self.store.iter_vectors())
        ids = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros(0, np.int64)
        dim = self.identity.dim
        vecs = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros((0, dim), np.float32)
        kind = choose_kind(len(ids), self.manifest.index_kind)
        self._vectors = VectorIndex.build(kind, dim, ids, vecs)
        self._save_vectors(generation)

    def _save_vectors(self, generation: int) -> None:
        assert self._vectors is not None
        self._vectors.save(self.folder / FAISS_NAME)
        with self.store.transaction() as session:
            self.store.set_meta("faiss_kind", self._vectors.kind, session)
            self.store.set_meta("faiss_generation", generation, session)

    # ---- ingest ----------------------------------------------------------------------------

    @property
    def root(self) -> Path | None:
        recorded = self.store.get_meta("root")
        return None if recorded is None else (self.folder / recorded).resolve()

    def ingest(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        exclude: tuple[str, ...] = (),
        workers: int | None = None,
        batch_size: int | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Synchronise the index with the files under ``root`` (default: the recorded root).

        New files are embedded, changed ones re-embedded, renamed and duplicate ones reuse their
        stored vector, deleted ones are removed, and unreadable ones are recorded as failed.
        """
        options = IngestOptions(exclude=exclude, batch_size=batch_size)
        if workers is not None:
            options.workers = workers
        with self._ingest_lock():
            folder = self._resolve_root(root)
            sink = _FaissSink(self.vectors)
            report = IngestRun(self.store, sink, self.encoder, folder, options, progress).run()
            wanted = choose_kind(len(self.vectors), self.manifest.index_kind)
            if sink.needs_rebuild or wanted != self.vectors.kind:
                self.rebuild_vectors()
            else:
                self._save_vectors(self.store.get_meta("generation"))
        return report

    @contextmanager
    def _ingest_lock(self) -> Iterator[None]:
        """One ingest at a time per index; the OS drops the lock if the process dies."""
        with open(self.folder / LOCK_NAME, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise VsearchError(
                    f"another ingest is running on the index at {self.folder}; wait for it to end"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _resolve_root(self, root: str | os.PathLike[str] | None) -> Path:
        recorded = self.root
        if root is None:
            if recorded is None:
                raise VsearchError(f"index at {self.folder} has no folder yet; name one to ingest")
            folder = recorded
        else:
            folder = Path(root).expanduser().resolve()
            if recorded is not None and folder != recorded:
                raise VsearchError(
                    f"index at {self.folder} holds the files of {recorded}, not {folder}; "
                    "use another --index for another folder"
                )
        if not folder.is_dir():
            raise IndexNotFound(f"folder {folder} does not exist or is not a folder")
        if recorded is None:
            self.store.set_meta("root", os.path.relpath(folder, self.folder.resolve()))
        return folder

    # ---- search ----------------------------------------------------------------------------

    def search(
        self,
        text: str | None = None,
        image: str | os.PathLike[str] | Image.Image | None = None,
        *,
        k: int = 10,
        instruction: str | None = None,
        filters: Filters | Sequence[str] | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The ``k`` items closest to a text, an image, or both (a composed query).

        Args:
            text: the query text.
            image: a path to an image file, or a PIL image.
            k: how many hits.
            instruction: the task instruction; default: retrieval for text, image retrieval for
                an image, composed retrieval for both.
            filters: conditions every hit meets, e.g. ``["kind=image", "date>=2024-05"]`` (see
                :mod:`vsearch.query.filters`); ``k`` hits still come back when ``k`` items pass.
            min_score: drop hits whose cosine similarity is below this.

        Returns:
            Hits by descending cosine similarity.

        For weighted multi-part queries see :func:`vsearch.query.run_query`.
        """
        if text is None and image is None:
            raise ValueError("search needs a text, an image or both")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        filters = as_filters(filters)
        query_image = None if image is None else load_image(image, self.encoder.max_image_side)
        item = Item(image=query_image, text=text)
        if instruction is None:
            instruction = instruction_for(text, has_image=image is not None)
        query_emb = self.encoder.encode([item], instruction)
        return self.search_vector(query_emb[0], k=k, filters=filters, min_score=min_score)

    def search_vector(
        self,
        query_emb: np.ndarray,
        *,
        k: int = 10,
        filters: Filters | Sequence[str] | None = None,
        min_score: float | None = None,
    ) -> list[Hit]:
        """The ``k`` items closest to ``query_emb`` (``(dim,)`` float32, unit length).

        ``filters`` and ``min_score`` as in :meth:`search`.
        """
        scores, ids = filtered_search(
            self.vectors,
            self.store,
            query_emb,
            k,
            filters=as_filters(filters),
            min_score=min_score,
        )
        return self.hits(ids, scores)

    def hits(
        self, ids: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray
    ) -> list[Hit]:
        """Hits for item ids with their scores, in the order given; unknown ids are skipped."""
        rows = self.store.items_by_id(int(i) for i in ids if i >= 0)
        root = self.root or self.folder
        return [
            Hit(
                int(i),
                rows[i].path,
                root / rows[i].path,
                float(s),
                rows[i].kind,
                _hit_metadata(rows[i]),
            )
            for s, i in zip(scores, ids, strict=True)
            if i in rows
        ]

    def get(self, item_id: int) -> Hit | None:
        """The indexed item with this id (score 1.0), or None when there is none."""
        found = self.hits([item_id], [1.0])
        return found[0] if found else None

    # ---- the rest --------------------------------------------------------------------------

    def remove(self, paths: list[str]) -> int:
        """Forget items by path (relative to the root, or absolute under it); returns how many."""
        root = self.root
        rel = [
            os.path.relpath(Path(p).resolve(), root) if root and Path(p).is_absolute() else p
            for p in paths
        ]
        rows = [row for p in rel if (row := self.store.item_by_path(Path(p).as_posix()))]
        with self.store.transaction() as session:
            for row in rows:
                session.delete(session.get(ItemRow, row.id))
            self.store.bump_generation(session)
        sink = _FaissSink(self.vectors)
        sink.remove(np.array([r.id for r in rows if r.status == STATUS_OK], np.int64))
        if sink.needs_rebuild:
            self.rebuild_vectors()
        else:
            self._save_vectors(self.store.get_meta("generation"))
        return len(rows)

    def info(self) -> dict[str, Any]:
        return {
            "index": str(self.folder),
            "root": str(self.root) if self.root else None,
            "encoder": self.identity.to_dict(),
            "model": self.store.get_meta("encoder_spec"),
            "items": len(self),
            "failed": self.store.count("failed"),
            "pending": self.store.count(STATUS_PENDING),
            "vectors": len(self.vectors),
            "index_kind": self.vectors.kind,
            "schema_version": self.store.get_meta("schema_version"),
            "store": self.store.url,
        }

    def __len__(self) -> int:
        return self.store.count(STATUS_OK)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _FaissSink:
    """Applies committed vector changes to the FAISS index; notes when it must be rebuilt."""

    def __init__(self, vectors: VectorIndex) -> None:
        self.vectors = vectors
        self.needs_rebuild = False

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not self.needs_rebuild:
            self.vectors.add(ids, vectors)

    def remove(self, ids: np.ndarray) -> None:
        if not self.needs_rebuild and not self.vectors.remove(ids):
            self.needs_rebuild = True


def _sqlite_url(folder: Path) -> str:
    return f"sqlite:///{(folder / DB_NAME).resolve()}"
