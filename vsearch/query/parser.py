"""The query language: weighted parts joined by ``+`` and ``-``.

``vsearch query "2:golden retriever" + ./pool.jpg - fruit`` is three parts: the text "golden
retriever" with weight 2, the image ``./pool.jpg`` with weight 1 and the text "fruit" with weight
-1. Rules:

- ``+`` and ``-`` are operators only as tokens of their own; "salt + pepper" inside one quoted
  argument is plain text.
- Tokens between two operators form one part, joined by single spaces: ``golden retriever``
  unquoted is one part.
- ``W:`` before a part's first token is its weight (``2:dog``, ``0.5:cat``); the operator's sign
  multiplies it.
- A token that looks like a path (``./x``, ``../x``, ``/x``, ``~/x``, ``file://...`` or a name
  ending in an image extension) is an image; it must exist. A part with an image and text is a
  composed part (the image with the described change).
- At least one part must have a positive weight.

The parser never embeds anything; :mod:`vsearch.query.search` does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from vsearch.errors import QueryError

IMAGE_SUFFIXES = (
    ".jpg",
    ".jpeg",
    ".png",
    ".webp",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".avif",
)
OPERATORS = {"+": 1.0, "-": -1.0}
_WEIGHT = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)):(.+)$", re.DOTALL)
_PATH_PREFIXES = ("./", "../", "/", "~/", ".\\", "..\\")


@dataclass(frozen=True)
class QueryPart:
    """One weighted part of a query: a text, an image file, or both (composed)."""

    weight: float
    text: str | None = None
    image: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "weight": self.weight,
            "text": self.text,
            "image": None if self.image is None else str(self.image),
        }


@dataclass(frozen=True)
class ParsedQuery:
    """The parts of a query, in the order written."""

    parts: tuple[QueryPart, ...]

    def with_image(self, image: Path) -> ParsedQuery:
        """The query with ``image`` added to its first part (which becomes a composed part).

        Raises:
            QueryError: the first part already has an image.
        """
        first = self.parts[0]
        if first.image is not None:
            raise QueryError(
                f"--image {image} given, but the query's first part is already the image "
                f"{first.image}; add more images with '+ PATH'"
            )
        return ParsedQuery((replace(first, image=image), *self.parts[1:]))


def parse_query(query: str | Sequence[str], *, image: Path | None = None) -> ParsedQuery:
    """Parse a query into weighted parts.

    Args:
        query: command-line tokens, or one string split on whitespace (use tokens for paths
            with spaces).
        image: an extra image for the first part (``--image``): a composed query with text, or
            an image query when the query has no parts.

    Returns:
        The parsed query; image paths exist and are expanded (``~``, ``file://``).

    Raises:
        QueryError: malformed input or a missing image file; the message says which token.
    """
    tokens = query.split() if isinstance(query, str) else [t for t in query if t.strip()]
    if not tokens:
        if image is None:
            raise QueryError("empty query: give a text, an image path, or --image FILE")
        return ParsedQuery((QueryPart(1.0, image=_existing_image(str(image))),))
    parts = tuple(_part(sign, group) for sign, group in _split(tokens))
    if not any(p.weight > 0 for p in parts):
        raise QueryError("a query needs at least one part with a positive weight")
    parsed = ParsedQuery(parts)
    return parsed if image is None else parsed.with_image(_existing_image(str(image)))


def _split(tokens: list[str]) -> list[tuple[float, list[str]]]:
    """Tokens -> ``(sign, tokens of one part)`` groups; operators between them."""
    groups: list[tuple[float, list[str]]] = []
    sign, current, last_op = 1.0, [], None
    for position, token in enumerate(tokens):
        if token in OPERATORS:
            if current:
                groups.append((sign, current))
            elif groups or position > 0:
                raise QueryError(f"two operators in a row ({last_op!r} then {token!r})")
            sign, current, last_op = OPERATORS[token], [], token
        else:
            current.append(token)
    if not current:
        raise QueryError(f"the query ends with {last_op!r}: a part must follow it")
    groups.append((sign, current))
    return groups


def _part(sign: float, tokens: list[str]) -> QueryPart:
    weight = 1.0
    match = _WEIGHT.match(tokens[0])
    if match:
        weight = float(match.group(1))
        tokens = [match.group(2), *tokens[1:]]
        if weight == 0:
            raise QueryError(f"weight 0 in {match.group(0)!r} makes that part do nothing")
    images = [t for t in tokens if looks_like_image(t)]
    if len(images) > 1:
        raise QueryError(
            f"one part has two images ({images[0]!r}, {images[1]!r}); join them with '+'"
        )
    text = " ".join(t for t in tokens if t not in images).strip() or None
    image = _existing_image(images[0]) if images else None
    return QueryPart(sign * weight, text=text, image=image)


def looks_like_image(token: str) -> bool:
    """Whether a token names an image file or URL rather than words."""
    lowered = token.lower()
    return (
        lowered.startswith(_PATH_PREFIXES)
        or "://" in lowered
        or (lowered.endswith(IMAGE_SUFFIXES) and " " not in token.strip())
    )


def _existing_image(token: str) -> Path:
    shown = token if token.isprintable() else repr(token)
    if token.lower().startswith(("http://", "https://")):
        raise QueryError(
            f"query image {shown} is a web address; vsearch does not fetch URLs at query time, "
            "download it and pass the file"
        )
    raw = unquote(urlparse(token).path) if token.lower().startswith("file://") else token
    path = Path(os.path.expanduser(raw))
    try:
        found = path.is_file()
    except (OSError, ValueError):  # e.g. a NUL byte or a name too long for the OS
        found = False
    if not found:
        raise QueryError(f"query image {shown} does not exist")
    return path
