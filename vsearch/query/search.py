"""Retrieval: embed a parsed query with the right instructions, search, filter, threshold.

Each part of a query is embedded with its task instruction (text: retrieval, image: image
retrieval, image + text: composed retrieval) unless the caller names one; the query vector is
the normalised weighted sum of the parts' vectors (rclip-style query arithmetic).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vsearch.display import printable
from vsearch.encoders.base import Encoder, Item
from vsearch.encoders.instructions import TASKS
from vsearch.errors import QueryError, UnsupportedInput
from vsearch.hit import Hit
from vsearch.ingest.decode import decode_image, read_bytes
from vsearch.query.filters import Filters, as_filters
from vsearch.query.hybrid import check_route, text_search
from vsearch.query.parser import ParsedQuery, QueryPart, parse_query
from vsearch.query.target import SearchTarget


@dataclass(frozen=True)
class QueryResult:
    """Hits of a query, with the parts it was made of and the instruction each was embedded with."""

    hits: list[Hit]
    parts: tuple[QueryPart, ...]
    instructions: tuple[str | None, ...]

    @property
    def instruction(self) -> str | None:
        """The instruction every part used, or None when the parts used different ones."""
        unique = set(self.instructions)
        return self.instructions[0] if len(unique) == 1 else None

    def records(self) -> Iterator[dict[str, Any]]:
        """One JSON-ready dict per hit: rank, the hit's fields, the instruction(s) and parts."""
        parts = [
            {**p.to_dict(), "instruction": i}
            for p, i in zip(self.parts, self.instructions, strict=True)
        ]
        for rank, hit in enumerate(self.hits, 1):
            yield {"rank": rank, **hit.to_dict(), "instruction": self.instruction, "parts": parts}


def default_instruction(part: QueryPart) -> str:
    """The MMEB query instruction for a part: retrieval, image retrieval or composed."""
    return instruction_for(part.text, has_image=part.image is not None)


def instruction_for(text: str | None, *, has_image: bool) -> str:
    """Composed for image + text, retrieval for text alone, image retrieval for an image."""
    if has_image and text:
        return TASKS["composed"].query
    return TASKS["retrieval" if text else "image_retrieval"].query


def load_image(image: str | os.PathLike[str] | Image.Image, max_side: int) -> Image.Image:
    """A query image: decoded like ingested ones (EXIF-transposed, RGB, size-capped).

    Raises:
        UnsupportedInput: missing or unreadable file, with the path in the message.
    """
    if isinstance(image, Image.Image):
        return image
    refuse_web_address(image)
    path = Path(image)
    if not path.is_file():
        raise UnsupportedInput(f"query image {path} does not exist")
    try:
        decoded = decode_image(read_bytes(path), max_side=max_side).item.image
    except UnsupportedInput as exc:
        raise UnsupportedInput(f"query image {path}: {exc}") from exc
    assert decoded is not None
    return decoded


def refuse_web_address(image: str | os.PathLike[str]) -> None:
    """Raise UnsupportedInput for ``http://...`` and the like: nothing is fetched at query time."""
    if "://" in str(image) and not str(image).lower().startswith("file://"):
        raise UnsupportedInput(
            f"query image {printable(image)} is a web address; vsearch does not fetch URLs at "
            "query time, download it and pass the file"
        )


def embed_query(
    encoder: Encoder, parsed: ParsedQuery, *, instruction: str | None = None
) -> tuple[np.ndarray, tuple[str | None, ...]]:
    """The query vector of a parsed query.

    Args:
        encoder: the index's encoder.
        parsed: weighted parts.
        instruction: one instruction for every part; None: each part's default.

    Returns:
        ``((dim,) float32 unit vector, the instruction used for each part)``.

    Raises:
        QueryError: the weighted parts cancel out.
    """
    instructions = tuple(instruction or default_instruction(p) for p in parsed.parts)
    vectors = []
    for part, used in zip(parsed.parts, instructions, strict=True):
        image = None if part.image is None else load_image(part.image, encoder.max_image_side)
        vectors.append(encoder.encode([Item(image=image, text=part.text)], used)[0])
    if len(vectors) == 1 and parsed.parts[0].weight > 0:
        return vectors[0], instructions  # exactly what Index.search embeds
    weights = np.array([p.weight for p in parsed.parts], dtype=np.float32)
    combined = weights @ np.stack(vectors)
    norm = float(np.linalg.norm(combined))
    if norm < 1e-6:
        raise QueryError("the query's weighted parts cancel out; nothing is left to search for")
    return (combined / norm).astype(np.float32), instructions


def run_query(
    index: SearchTarget,
    query: str | Sequence[str] | ParsedQuery,
    *,
    image: str | os.PathLike[str] | None = None,
    k: int = 10,
    instruction: str | None = None,
    filters: Filters | Sequence[str] | None = None,
    min_score: float | None = None,
    route: str = "hybrid",
) -> QueryResult:
    """Search ``index`` with a query in the query language (see :mod:`vsearch.query.parser`).

    Args:
        index: an open index.
        query: tokens (as a shell passes them), one string, or a parsed query.
        image: an image for the first part (composed with its text, or the query itself).
        k: how many hits.
        instruction: one task instruction for every part (default: per part).
        filters: conditions such as ``["kind=image", "date>=2024"]``.
        min_score: drop hits scoring below this cosine similarity.
        route: for a query of text alone: ``hybrid`` (by meaning and by its words), ``semantic``
            or ``keyword`` (see :mod:`vsearch.query.hybrid`); a query with an image is semantic.

    Returns:
        The hits and what was searched for.

    Raises:
        QueryError, UnsupportedInput, ValueError (k < 1).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    checked = as_filters(filters)
    if image is not None:
        refuse_web_address(image)
    if isinstance(query, ParsedQuery):
        parsed = query if image is None else query.with_image(Path(image))
    else:
        parsed = parse_query(query, image=None if image is None else Path(image))
    check_route(route)
    words = " ".join(p.text for p in parsed.parts if p.weight > 0 and p.text)
    textual = all(p.image is None for p in parsed.parts) and words
    if route == "keyword" and textual:
        hits = text_search(index, words, None, k=k, filters=checked, min_score=None, route=route)
        return QueryResult(hits, parsed.parts, (None,) * len(parsed.parts))
    query_emb, instructions = embed_query(index.encoder, parsed, instruction=instruction)
    if textual:
        hits = text_search(
            index, words, query_emb, k=k, filters=checked, min_score=min_score, route=route
        )
    else:
        hits = index.search_vector(query_emb, k=k, filters=checked, min_score=min_score)
    return QueryResult(hits, parsed.parts, instructions)
