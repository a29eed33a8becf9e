"""The Index facade: what the CLI, the server and Python users share.

An index is a folder: ``vsearch.json`` (manifest), ``metadata.sqlite`` (the source of truth:
items, raw vectors, facts; or a PostgreSQL schema), ``vectors.faiss`` and ``vectors.json``
(derived, rebuilt whenever stale). :class:`~vsearch.store.catalog.Catalog` keeps them consistent;
this class adds the encoder and the folder being indexed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vsearch.encoders.base import Encoder, EncoderIdentity, Item
from vsearch.encoders.instructions import DOCUMENT_INSTRUCTIONS
from vsearch.encoders.registry import load_encoder
from vsearch.errors import EncoderMismatch, IndexNotFound, VsearchError
from vsearch.hit import Hit
from vsearch.ingest.pipeline import IngestOptions, IngestReport, IngestRun
from vsearch.manifest import MANIFEST_NAME, Manifest
from vsearch.progress import Progress, Steps
from vsearch.query.hybrid import check_route, text_search
from vsearch.query.search import instruction_for, load_image
from vsearch.store.catalog import (
    DB_NAME,
    FAISS_NAME,
    LOCK_NAME,
    SHORT_WRITE_WAIT,
    Catalog,
    Writer,
)
from vsearch.store.filters import Filters, as_filters
from vsearch.store.folders import Folder, containing
from vsearch.store.metadata import MetadataStore
from vsearch.store.vectors import VectorIndex

__all__ = ["DB_NAME", "FAISS_NAME", "LOCK_NAME", "Hit", "Index"]


class Index:
    """A searchable, incrementally synchronised index of one or more folders.

    One ``Index`` may be shared by threads (a server searches while it re-syncs). It does not
    watch the folders by itself (call ``ingest`` again, or :func:`vsearch.watch.watch`), and it
    refuses a second concurrent writer.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._encoder: Encoder | None = None
        self._encoder_options: dict[str, Any] = {}
        self._encoder_lock = threading.Lock()

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
        """Create an empty index at ``path`` for ``encoder`` (default: the default model).

        Args:
            store_url: a database for the metadata (e.g. ``postgresql://user@host/db``); each
                index gets its own schema there. Default: ``metadata.sqlite`` in the folder.
        """
        enc = encoder if isinstance(encoder, Encoder) else load_encoder(encoder)
        catalog = Catalog.create(
            Path(path).expanduser(),
            identity=enc.identity,
            facts=_encoder_facts(enc),
            store_url=store_url,
            index_kind=index_kind,
        )
        index = cls(catalog)
        index._encoder = enc
        return index

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        encoder: Encoder | str | None = None,
        reindex: bool = False,
        store_url: str | None = None,
        **encoder_options: Any,
    ) -> Index:
        """Open the index at ``path``.

        Args:
            path: the index folder.
            encoder: the encoder to use (an Encoder or a model spec); None loads the one the
                index was built with, on first use.
            reindex: accept an encoder that differs from the index's and re-embed every item
                with it on the next ``ingest``.
            store_url: the database URL again (e.g. with a password, which the manifest never
                keeps); default: the manifest's.
            **encoder_options: options for ``load_encoder`` (device, dtype, batch_size).

        Raises:
            IndexNotFound, SchemaVersionError, EncoderMismatch, StoreError.
        """
        index = cls(Catalog.open(Path(path).expanduser(), store_url=store_url))
        index._encoder_options = encoder_options
        if encoder is not None:
            enc = (
                encoder
                if isinstance(encoder, Encoder)
                else load_encoder(encoder, **encoder_options)
            )
            if enc.identity != index.identity and not reindex:
                index.close()
                raise EncoderMismatch(index._mismatch_message(enc))
            if reindex:
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
        create_with: Encoder | str | None = None,
        reindex: bool = False,
        store_url: str | None = None,
        create_store_url: str | None = None,
        **encoder_options: Any,
    ) -> Index:
        """Open the index at ``path``, or create it for ``encoder`` when there is none.

        Args:
            create_with: the encoder of a new index when ``encoder`` is None (a configured
                default model, which an existing index does not take).
            create_store_url: the store of a new index when ``store_url`` is None.
        """
        if (Path(path).expanduser() / MANIFEST_NAME).exists():
            return cls.open(
                path, encoder=encoder, reindex=reindex, store_url=store_url, **encoder_options
            )
        encoder = encoder or create_with
        if isinstance(encoder, str) or encoder is None:
            encoder = load_encoder(encoder, **encoder_options)
        index = cls.create(path, encoder=encoder, store_url=store_url or create_store_url)
        index._encoder_options = encoder_options  # what a Ray worker loads the encoder with
        return index

    # ---- what it is ------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return self.catalog.folder

    @property
    def manifest(self) -> Manifest:
        return self.catalog.manifest

    @property
    def store(self) -> MetadataStore:
        """The metadata store, for reading; every write goes through the catalog."""
        return self.catalog.store

    @property
    def vectors(self) -> VectorIndex:
        """The FAISS index as of the store's current state."""
        return self.catalog.vectors()

    @property
    def root(self) -> Path | None:
        """The first folder the index holds (see :meth:`folders` for all)."""
        return self.catalog.root

    @property
    def identity(self) -> EncoderIdentity:
        """The encoder identity the vectors were made with, read from the store."""
        return self.catalog.identity

    @property
    def encoder(self) -> Encoder:
        """The index's encoder, loaded on first use and checked against the recorded identity."""
        with self._encoder_lock:
            if self._encoder is None:
                enc = load_encoder(self.catalog.encoder_spec, **self._encoder_options)
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
        with self.catalog.writing(wait=SHORT_WRITE_WAIT) as writer:
            writer.reindex(enc.identity, _encoder_facts(enc))

    def tune(
        self,
        *,
        kind: str | None = None,
        recall: float | None = None,
        params: dict[str, int] | None = None,
        steps: Steps | None = None,
    ) -> dict[str, Any]:
        """Re-index the vectors as ``kind`` (``auto``, ``flat``, ``ivf``, ``hnsw``, ``ivfpq``),
        tuned to reach recall@10 ``recall``, or with fixed ``params`` (``nprobe``,
        ``ef_search``, ``rerank``; ``{}`` goes back to tuning); returns :meth:`info`.
        ``steps`` reports reading, building and saving the vectors (see :meth:`ingest`)."""
        self.catalog.tune(kind=kind, recall=recall, params=params, steps=steps)
        return self.info()

    def rebuild_vectors(self, steps: Steps | None = None) -> None:
        """Recreate the FAISS index from the stored vectors and save it."""
        self.catalog.rebuild(steps)

    # ---- ingest ----------------------------------------------------------------------------

    def ingest(
        self,
        folders: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        exclude: Sequence[str] | None = None,
        also_exclude: Sequence[str] = (),
        workers: int | None = None,
        batch_size: int | None = None,
        ocr: bool | None = None,
        progress: Progress | None = None,
        steps: Steps | None = None,
        ray: bool | str = False,
    ) -> IngestReport:
        """Synchronise the index with the files under ``folders`` (default: every folder it holds).

        A folder the index does not hold yet is added to it. New files are embedded, changed ones
        re-embedded, renamed and duplicate ones reuse their stored vector, deleted ones are
        removed, and unreadable ones are recorded as failed. The encoder is loaded only when
        something needs embedding.

        Args:
            folders: one folder or several; None: all the index holds.
            exclude: globs to skip, remembered for the named folders (replacing what they had;
                ``[]`` clears them); None: each folder's remembered globs.
            also_exclude: globs skipped this time in every folder, not remembered (the config
                file's ``exclude``).
            ocr: True: read the text in images and in PDF pages without a text layer (searchable
                by its words, fused into their vectors); False: in neither; None: in such PDF
                pages only (images cost too much by default: ``OCR_IMAGES_BY_DEFAULT``). It
                applies to what is embedded now: ``--reindex`` redoes the rest.
            progress: the encoding's progress.
            steps: the other long steps' (hashing; reading, building, saving the vector index).
            ray: decode and encode on a Ray cluster (True: the one this process joined, else
                ``RAY_ADDRESS``'s, else a new local one; a string: its address); the rows are
                written here, as a local ingest writes them. Needs ``vsearch[ray]``.

        Returns:
            One report for all the folders; its ``failed`` paths are relative to their folder
            when one folder was synced, absolute when several were.

        Raises:
            IndexBusy: another ingest, remove or reindex is writing to the index.
            VsearchError: a folder is missing, or overlaps one the index holds.
        """
        named = _as_list(folders)
        if exclude is not None and not named:
            raise ValueError("name the folders the excludes are for (they are remembered)")
        options = IngestOptions(
            exclude=(*also_exclude, *self._inside(named)), batch_size=batch_size
        )
        if workers is not None:
            options.workers = workers
        if ocr is not None:
            options.ocr_images = options.ocr_pages = ocr
        with self.catalog.writing(steps=steps) as writer:
            chosen = self._folders_to_sync(writer, named, exclude)
            return self._sync(writer, chosen, options, progress, steps, ray)

    def _sync(
        self,
        writer: Writer,
        folders: list[Folder],
        options: IngestOptions,
        progress: Progress | None,
        steps: Steps | None,
        ray: bool | str = False,
    ) -> IngestReport:
        total = IngestReport()
        for folder in folders:
            args = (writer, self._encoder_for_writing, folder, options, progress, steps)
            if ray is False:
                run = IngestRun(*args)
            else:
                from vsearch.ingest.ray_encode import RayIngestRun

                address = None if ray is True else ray
                run = RayIngestRun(*args, address=address, encoder_options=self._encoder_options)
            report = run.run()
            if len(folders) > 1:
                report.failed = [(str(folder.path / p), r) for p, r in report.failed]
            total.add(report)
        return total

    def _folders_to_sync(
        self, writer: Writer, named: list[Path], exclude: Sequence[str] | None
    ) -> list[Folder]:
        if not named:
            held = self.catalog.folders()
            if not held:
                raise VsearchError(f"index at {self.folder} has no folder yet; name one to ingest")
            for folder in held:
                if not folder.path.is_dir():
                    raise IndexNotFound(
                        f"folder {folder.path} of the index does not exist; mount it, or forget "
                        f"it with `vsearch folders remove {folder.path}`"
                    )
            return held
        globs = None if exclude is None else [p for p in exclude if p]  # "" clears them
        chosen = []
        for path in named:
            if not path.is_dir():
                raise IndexNotFound(f"folder {path} does not exist or is not a folder")
            folder = writer.add_folder(path, globs or ())
            if globs is not None and tuple(globs) != folder.excludes:
                folder = writer.set_excludes(folder, globs)
            chosen.append(folder)
        return chosen

    def sync_paths(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        also_exclude: Sequence[str] = (),
        wait: float = SHORT_WRITE_WAIT,
    ) -> IngestReport:
        """Re-sync only these paths (files or folders, existing or deleted) of the index's
        folders, as ingest would; paths outside every folder are ignored.

        Raises:
            IndexBusy: another writer kept the index for ``wait`` seconds.
        """
        within: dict[int, set[str]] = {}
        folders = self.catalog.folders()
        for path in paths:
            found = containing(folders, Path(path).expanduser().absolute())
            if found is not None and found[1] not in ("", "."):
                within.setdefault(found[0].id, set()).add(found[1])
        exclude = (*also_exclude, *self._inside([]))
        total = IngestReport()
        with self.catalog.writing(wait=wait) as writer:
            for folder in folders:
                if folder.id in within:
                    options = IngestOptions(exclude=exclude, within=sorted(within[folder.id]))
                    total.add(IngestRun(writer, self._encoder_for_writing, folder, options).run())
        return total

    def _inside(self, named: list[Path]) -> list[str]:
        """The index folder, as a glob, where it lies inside a folder being ingested."""
        own = self.folder.resolve()
        roots = named or [f.path for f in self.catalog.folders()]
        return [own.relative_to(r).as_posix() for r in roots if own.is_relative_to(r)]

    def folders(self) -> list[Folder]:
        """The folders the index holds (path, remembered excludes), in the order added."""
        return self.catalog.folders()

    def remove_folder(self, path: str | os.PathLike[str]) -> int:
        """Forget a folder and its items and vectors (the files stay); returns how many items.

        Raises:
            VsearchError: the index does not hold that folder.
        """
        wanted = Path(path).expanduser().resolve()
        with self.catalog.writing(wait=SHORT_WRITE_WAIT) as writer:
            for folder in self.catalog.folders():
                if folder.path == wanted:
                    return writer.remove_folder(folder)
        held = ", ".join(str(f.path) for f in self.catalog.folders()) or "none"
        raise VsearchError(f"the index at {self.folder} does not hold {wanted} (it holds: {held})")

    def _encoder_for_writing(self) -> Encoder:
        """The encoder, re-checked against the store: another handle may have re-indexed it."""
        enc = self.encoder
        if enc.identity != self.identity:
            raise EncoderMismatch(self._mismatch_message(enc))
        return enc

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
        route: str = "hybrid",
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
            route: for a text alone: ``hybrid`` (by meaning and by its words, fused by rank),
                ``semantic`` (the vectors only) or ``keyword`` (the words only, no model); see
                :mod:`vsearch.query.hybrid`.

        Returns:
            Hits, best first: by cosine similarity (semantic), by fused rank (hybrid, scored
            by cosine), by BM25 relevance (keyword); hits whose text holds query words name
            them (``metadata["matched"]``).

        For weighted multi-part queries see :func:`vsearch.query.run_query`.
        """
        if text is None and image is None:
            raise ValueError("search needs a text, an image or both")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        filters = as_filters(filters)
        check_route(route)
        if text and image is None and route == "keyword":
            return text_search(self, text, None, k=k, filters=filters, min_score=None, route=route)
        query_image = None if image is None else load_image(image, self.encoder.max_image_side)
        item = Item(image=query_image, text=text)
        if instruction is None:
            instruction = instruction_for(text, has_image=image is not None)
        query_emb = self.encoder.encode([item], instruction)[0]
        if text and image is None:
            return text_search(
                self, text, query_emb, k=k, filters=filters, min_score=min_score, route=route
            )
        return self.search_vector(query_emb, k=k, filters=filters, min_score=min_score)

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
        scores, ids = self.catalog.search(
            query_emb, k, filters=as_filters(filters), min_score=min_score
        )
        return self.catalog.hits(ids, scores)

    def hits(
        self, ids: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray
    ) -> list[Hit]:
        """Hits for item ids with their scores, in the order given; unknown ids are skipped."""
        return self.catalog.hits(ids, scores)

    def get(self, item_id: int) -> Hit | None:
        """The indexed item with this id (score 1.0), or None when there is none."""
        found = self.catalog.hits([item_id], [1.0])
        return found[0] if found else None

    # ---- the rest --------------------------------------------------------------------------

    def remove(self, paths: list[str]) -> int:
        """Forget items by path (relative to their folder, or a path to the file; a PDF's or a
        long text's path forgets all its pages or chunks); returns how many."""
        ids = [row.id for p in paths if (row := self.catalog.item_at(p)) is not None]
        ids += [i for p in paths for i in self.catalog.parts_at(p)]
        with self.catalog.writing(wait=SHORT_WRITE_WAIT) as writer:
            return writer.remove_items(ids)

    def info(self) -> dict[str, Any]:
        return self.catalog.info()

    def __len__(self) -> int:
        return self.catalog.count()

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_list(
    folders: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
) -> list[Path]:
    if folders is None:
        return []
    many = [folders] if isinstance(folders, str | os.PathLike) else list(folders)
    return [Path(f).expanduser().resolve() for f in many]


def _encoder_facts(enc: Encoder) -> dict[str, Any]:
    """What the store records of the encoder besides its identity."""
    return {
        "encoder_spec": enc.spec or enc.identity.model_id,
        "instructions": DOCUMENT_INSTRUCTIONS,
    }
