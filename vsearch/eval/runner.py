"""Run an encoder over MMEB-eval datasets: embed each unique input once, score, aggregate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vsearch.encoders.base import Encoder, Item
from vsearch.encoders.instructions import MMEB_DATASETS
from vsearch.errors import UnsupportedInput
from vsearch.eval.cache import EmbeddingCache, file_digest, item_key
from vsearch.eval.data import EvalDataset, load_datasets, split_instruction, with_instruction
from vsearch.eval.metrics import gold_rank, precision_at_1, recall_at_k
from vsearch.eval.report import DatasetResult, EvalReport, aggregate
from vsearch.ingest.decode import decode_image, read_bytes

log = logging.getLogger(__name__)

#: ``progress(dataset_name, inputs_embedded_so_far, inputs_to_embed)``.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class _Input:
    """One side of a row as the encoder sees it: instruction, text and absolute image path."""

    instruction: str | None
    text: str | None
    image: Path | None


def load_image(path: Path, max_side: int) -> Image.Image:
    """Decode an image as ingest does: RGB, upright, transparency on white, size-capped.

    Raises:
        UnsupportedInput: the file is missing or not an image.
    """
    try:
        image = decode_image(read_bytes(path), max_side=max_side).item.image
    except UnsupportedInput as e:
        raise UnsupportedInput(
            f"{path}: cannot read image ({e}); check --image-root points at the images folder"
        ) from e
    assert image is not None
    return image


class _Embedder:
    """Embeds inputs through the cache; remembers image digests and vectors across datasets."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache | None) -> None:
        self.encoder = encoder
        self.cache = cache
        self.vectors: dict[_Input, np.ndarray] = {}
        self._digests: dict[Path, str] = {}

    def key(self, inp: _Input) -> str:
        digest = None
        if inp.image is not None:
            if inp.image not in self._digests:
                try:
                    self._digests[inp.image] = file_digest(inp.image)
                except OSError as e:
                    raise UnsupportedInput(
                        f"{inp.image}: cannot read image ({e}); check --image-root"
                    ) from e
            digest = self._digests[inp.image]
        return item_key(inp.text, digest, inp.instruction)

    def ensure(self, inputs: list[_Input], name: str, progress: Progress | None) -> tuple[int, int]:
        """Make ``self.vectors`` hold every input; returns ``(embedded, cached)`` counts."""
        todo = [i for i in dict.fromkeys(inputs) if i not in self.vectors]
        keys = {inp: self.key(inp) for inp in todo}
        hits = self.cache.get_many(keys.values()) if self.cache is not None else {}
        missing = [inp for inp in todo if keys[inp] not in hits]
        for inp in todo:
            if keys[inp] in hits:
                self.vectors[inp] = hits[keys[inp]]
        done = 0
        for chunk in self._batches(missing):
            items = [self._item(inp) for inp in chunk]
            if self.encoder.reads_verbatim:
                emb = self.encoder.encode_verbatim(items)
            else:
                emb = self.encoder.encode(items, instruction=chunk[0].instruction)
            if self.cache is not None:
                self.cache.put_many([keys[inp] for inp in chunk], emb)
            self.vectors.update(zip(chunk, emb, strict=True))
            done += len(chunk)
            if progress is not None:
                progress(name, done, len(missing))
        return len(missing), len(todo) - len(missing)

    def _batches(self, inputs: list[_Input]) -> list[list[_Input]]:
        """Batches of ``batch_size`` inputs that share one instruction (one ``encode`` call)."""
        by_instruction: dict[str | None, list[_Input]] = {}
        for inp in inputs:
            by_instruction.setdefault(inp.instruction, []).append(inp)
        step = max(1, self.encoder.batch_size)
        return [
            group[i : i + step]
            for group in by_instruction.values()
            for i in range(0, len(group), step)
        ]

    def _item(self, inp: _Input) -> Item:
        image = None
        if inp.image is not None:
            image = load_image(inp.image, self.encoder.max_image_side)
        return Item(image=image, text=inp.text)


def _side(
    text: str, image_path: str, root: Path, where: str, *, query: bool, verbatim: bool
) -> _Input:
    image = (root / image_path).resolve() if image_path else None
    if verbatim:
        # The MMEB string whole, as the reference embeds it (``Encoder.reads_verbatim``).
        if not text.strip() and image is None:
            raise UnsupportedInput(f"{where}: neither text nor image; this row cannot be embedded")
        return _Input(None, text or None, image)
    # Queries and image candidates carry an MMEB instruction; text candidates are bare.
    instruction, body = split_instruction(text, has_instruction=query or bool(image_path))
    inp = _Input(instruction, body, image)
    if inp.text is None and inp.image is None:
        if inp.instruction is None:
            raise UnsupportedInput(f"{where}: neither text nor image; this row cannot be embedded")
        # A text-only side that is all instruction: embed the instruction as its text.
        inp = _Input(None, inp.instruction, None)
    return inp


def evaluate_dataset(
    dataset: EvalDataset, embedder: _Embedder, progress: Progress | None = None
) -> DatasetResult:
    """Score one dataset: embed what is missing, rank the gold candidate of every row."""
    root, verbatim = dataset.image_root, embedder.encoder.reads_verbatim
    # Rows written without instructions get their dataset's: every side when the manifest
    # names the style, only empty sides of an MMEB-named dataset (its files carry their own).
    known = MMEB_DATASETS.get(dataset.instructions or dataset.name)
    empty_only = dataset.instructions is None
    queries, candidates = [], []
    for n, row in enumerate(dataset.rows):
        where = f"{dataset.name} row {n}"
        query = row.qry_text
        if known is not None:
            query = with_instruction(
                query, known.query, has_image=bool(row.qry_img_path), only_if_empty=empty_only
            )
        queries.append(_side(query, row.qry_img_path, root, where, query=True, verbatim=verbatim))
        targets = []
        for text, path in zip(row.tgt_text, row.tgt_img_path, strict=True):
            if known is not None and path:
                text = with_instruction(
                    text, known.target, has_image=True, only_if_empty=empty_only
                )
            targets.append(_side(text, path, root, where, query=False, verbatim=verbatim))
        candidates.append(targets)
    flat = queries + [c for cands in candidates for c in cands]
    embedded, cached = embedder.ensure(flat, dataset.name, progress)
    vec = embedder.vectors
    scores = [
        np.stack([vec[c] for c in cands]) @ vec[q]
        for q, cands in zip(queries, candidates, strict=True)
    ]
    ranks = np.array([gold_rank(s) for s in scores], dtype=np.int64)
    strict_ranks = np.array([gold_rank(s, strict=True) for s in scores], dtype=np.int64)
    log.info("%s: %d queries, %d embedded, %d cached", dataset.name, len(ranks), embedded, cached)
    return DatasetResult(
        name=dataset.name,
        meta_task=dataset.meta_task,
        n_queries=len(ranks),
        n_candidates=float(np.mean([len(c) for c in candidates])) if candidates else 0.0,
        precision_at_1=100.0 * precision_at_1(ranks),
        recall_at_5=100.0 * recall_at_k(ranks, 5),
        embedded=embedded,
        cached=cached,
        precision_at_1_strict=100.0 * precision_at_1(strict_ranks),
    )


def evaluate(
    encoder: Encoder,
    datasets: list[EvalDataset],
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    limit: int | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Evaluate ``encoder`` on ``datasets`` the way MMEB does.

    Args:
        encoder: any Encoder; each side of a row reaches it as ``Item(image, text)`` plus the
            instruction split off MMEB's text (see ``vsearch.eval.data.split_instruction``).
        datasets: from ``load_datasets``.
        cache_dir: where the embedding cache lives; default ``$VSEARCH_HOME/eval-cache``.
        use_cache: False embeds everything and writes nothing to disk.
        limit: recorded in the report (the rows were already cut by ``load_datasets``).
        progress: called after each embedded batch.

    Returns:
        The report: per-dataset Precision@1 and Recall@5, meta-task means and overall.
    """
    cache = EmbeddingCache(encoder.identity, cache_dir) if use_cache else None
    try:
        embedder = _Embedder(encoder, cache)
        results = []
        for dataset in datasets:
            if not dataset.rows:
                log.warning("%s has no rows; it is left out of the report", dataset.name)
                continue
            results.append(evaluate_dataset(dataset, embedder, progress))
    finally:
        if cache is not None:
            cache.close()
    per_task, overall = aggregate(results)
    return EvalReport(encoder.identity.to_dict(), results, per_task, overall, limit)


def _eval_encoder(model: str | None, image_resolution: str | None) -> Encoder:
    from vsearch.encoders.registry import load_encoder, loads_path
    from vsearch.encoders.vlm2vec.images import EVAL_RESOLUTION

    if not loads_path(model):
        if image_resolution is not None:
            raise ValueError(
                f"--image-resolution applies to VLM2Vec checkpoints, not to {model or 'mini'}"
            )
        return load_encoder(model)
    return load_encoder(model, image_resolution=image_resolution or EVAL_RESOLUTION)


def run_eval(
    paths: list[Path],
    *,
    model: str | None = None,
    image_root: Path | None = None,
    limit: int | None = None,
    out: Path | None = None,
    cache_dir: Path | None = None,
    encoder: Encoder | None = None,
    progress: Progress | None = None,
    image_resolution: str | None = None,
) -> EvalReport:
    """The ``vsearch eval`` command: load data and model, evaluate, write the JSON report.

    Args:
        paths: data files or folders (see ``load_datasets``).
        model: an encoder spec for ``load_encoder``; ignored when ``encoder`` is given.
        image_root: the folder image paths are relative to.
        limit: at most this many rows per dataset (smoke runs).
        out: write the JSON report here when given.
        cache_dir: the embedding cache folder.
        encoder: an already-built encoder (tests, notebooks).
        progress: called after each embedded batch.
        image_resolution: the image policy of a VLM2Vec checkpoint (``vsearch.encoders.
            vlm2vec.images``); default ``reference``, the reference's 1344x1344 squash, so
            scores compare with the published ones.

    Raises:
        UnsupportedInput: bad data or paths. ValueError: ``limit`` below 1, an unknown model,
            or ``image_resolution`` for an encoder that is not a VLM2Vec checkpoint.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    datasets = load_datasets(list(paths), image_root=image_root, limit=limit)
    if encoder is None:
        encoder = _eval_encoder(model, image_resolution)
    report = evaluate(encoder, datasets, cache_dir=cache_dir, limit=limit, progress=progress)
    if out is not None:
        report.write_json(out)
    return report
