"""Instructed tasks other than retrieval: VQA answer ranking and classification.

Queries and targets follow MMEB: VQA embeds the image with "Represent the given image with the
following question:" + the question and scores bare answers; classification embeds the image with
"Represent the given image for classification." and scores bare labels. Classifying the items of
an index reuses their stored vectors (embedded as retrieval targets) and so scores each label
embedded as a retrieval query; nothing is re-encoded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from vsearch.encoders.base import Encoder, Item
from vsearch.encoders.instructions import TASKS
from vsearch.errors import QueryError, UnsupportedInput
from vsearch.query.filters import Filters, as_filters
from vsearch.query.search import load_image

if TYPE_CHECKING:
    from vsearch.query.target import SearchTarget

ImageInput = str | os.PathLike[str] | Image.Image


@dataclass(frozen=True)
class Scored:
    """A candidate (answer or label) and its cosine similarity to the query."""

    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(self.score, 6)}


@dataclass(frozen=True)
class Classification:
    """The labels of one image, best first; ``source`` is its path (or ``<image>``)."""

    source: str
    scores: list[Scored]

    @property
    def label(self) -> str:
        return self.scores[0].label

    @property
    def score(self) -> float:
        return self.scores[0].score

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "label": self.label,
            "score": round(self.score, 6),
            "scores": [s.to_dict() for s in self.scores],
        }


def read_choices(path: str | os.PathLike[str]) -> list[str]:
    """Answers or labels from a UTF-8 file: one a line; blank lines and ``#`` comments skipped.

    Raises:
        UnsupportedInput: the file cannot be read.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UnsupportedInput(f"cannot read {path}: {exc}") from exc
    return [s for line in lines if (s := line.strip()) and not s.startswith("#")]


def _choices(choices: Sequence[str], what: str) -> list[str]:
    unique = list(dict.fromkeys(c.strip() for c in choices if c and c.strip()))
    if not unique:
        raise QueryError(f"no {what} given; pass at least one (or a file with one per line)")
    return unique


def _ranked(labels: list[str], scores: np.ndarray) -> list[Scored]:
    order = np.argsort(-scores, kind="stable")
    return [Scored(labels[i], float(scores[i])) for i in order]


def rank_answers(
    encoder: Encoder,
    image: ImageInput,
    question: str,
    answers: Sequence[str],
    *,
    instruction: str | None = None,
) -> list[Scored]:
    """VQA candidate ranking: which answer fits the image and the question.

    Args:
        encoder: any encoder (it need not belong to an index).
        image: the image file or a PIL image.
        question: e.g. "What colour is the car?".
        answers: candidate answers (duplicates dropped).
        instruction: overrides the MMEB VQA instruction.

    Returns:
        Every answer with its score, best first.
    """
    if not question.strip():
        raise QueryError("the question is empty")
    answers = _choices(answers, "answers")
    query = Item(image=load_image(image, encoder.max_image_side), text=question)
    query_emb = encoder.encode([query], instruction or TASKS["vqa"].query)[0]
    targets = encoder.encode([Item(text=a) for a in answers], TASKS["vqa"].target)
    return _ranked(answers, targets @ query_emb)


def classify_images(
    encoder: Encoder,
    images: Sequence[ImageInput],
    labels: Sequence[str],
    *,
    instruction: str | None = None,
) -> list[Classification]:
    """Zero-shot classification of image files (or PIL images) among ``labels``.

    Returns:
        One Classification per image, in the order given.
    """
    labels = _choices(labels, "labels")
    if not images:
        raise QueryError("no images to classify")
    items = [Item(image=load_image(i, encoder.max_image_side)) for i in images]
    query_emb = encoder.encode(items, instruction or TASKS["classification"].query)
    label_emb = encoder.encode([Item(text=t) for t in labels], TASKS["classification"].target)
    sources = ["<image>" if isinstance(i, Image.Image) else str(Path(i).resolve()) for i in images]
    return [
        Classification(str(src), _ranked(labels, label_emb @ q))
        for src, q in zip(sources, query_emb, strict=True)
    ]


def classify_items(
    index: SearchTarget,
    labels: Sequence[str],
    *,
    filters: Filters | Sequence[str] | None = None,
    instruction: str | None = None,
) -> list[Classification]:
    """Classify the indexed items (all, or those passing ``filters``) by their stored vectors.

    Returns:
        One Classification per item, ``source`` = its absolute path, by path.
    """
    labels = _choices(labels, "labels")
    checked = as_filters(filters)
    label_emb = index.encoder.encode(
        [Item(text=t) for t in labels], instruction or TASKS["retrieval"].query
    )
    ids, vectors = index.catalog.all_vectors(checked)
    scores = vectors @ label_emb.T  # (n, labels)
    results = [(int(i), _ranked(labels, s)) for i, s in zip(ids, scores, strict=True)]
    paths = index.catalog.paths_by_id()
    found = [Classification(str(paths[i]), s) for i, s in results if i in paths]
    return sorted(found, key=lambda c: c.source)
