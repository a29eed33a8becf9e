"""The API's searches: the CLI's query language and records, without ever opening a path.

A text query is run by :func:`vsearch.query.run_query`, exactly as ``vsearch query`` runs it, so
the API returns the records ``--json`` prints. What the query language would read as an image
path is refused: the API takes images as uploads (decoded with ingest's safe decoder) or as
indexed items.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from PIL import Image

from vsearch.errors import QueryError
from vsearch.index import Index
from vsearch.ingest.decode import decode_image
from vsearch.query import ParsedQuery, QueryPart, QueryResult, embed_query, parse_query, run_query
from vsearch.query.parser import OPERATORS, looks_like_image

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_RESULTS = 1000
# The query language's weight prefix ("2:dog"); what follows it is checked for a path too.
_WEIGHT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+):(.+)$", re.DOTALL)


def query_tokens(q: str | None, terms: Sequence[str]) -> list[str]:
    """The query's tokens (``terms`` as a shell would pass them, else ``q`` split on spaces).

    Raises:
        QueryError: a token reads as an image path or URL, which the API does not open.
    """
    tokens = [t for t in terms if t.strip()] if terms else (q or "").split()
    for token in tokens:
        if token in OPERATORS:
            continue
        weighted = _WEIGHT.match(token)
        body = weighted.group(1) if weighted else token
        if looks_like_image(token) or looks_like_image(body):
            raise QueryError(
                f"{token!r} reads as an image path, and the server opens no path a request "
                "names: upload the image (POST /api/search) or use /api/items/ID/similar"
            )
    return tokens


def decode_upload(data: bytes, max_side: int) -> Image.Image:
    """An uploaded query image, decoded like ingested ones (EXIF, bomb caps, size cap).

    Raises:
        UnsupportedInput: empty, not an image, corrupt, or over the decoder's caps.
    """
    if not data:
        raise QueryError("the uploaded image is empty")
    image = decode_image(data, max_side=max_side).item.image
    assert image is not None
    return image


def search_records(
    index: Index,
    tokens: list[str],
    *,
    image: Image.Image | None = None,
    image_label: str = "upload",
    k: int = 10,
    offset: int = 0,
    where: Sequence[str] = (),
    min_score: float | None = None,
    instruction: str | None = None,
) -> list[dict[str, Any]]:
    """Search and return the CLI's ``--json`` records, ranked from ``offset + 1``.

    Args:
        index: the served index.
        tokens: query-language tokens, checked by :func:`query_tokens`.
        image: an uploaded image for the first part (composed with its text), or the query.
        image_label: how the records name the uploaded image (``upload:NAME``).
        k: hits wanted after ``offset``.
        offset: hits skipped (paging).
        where: filter conditions.
        min_score: the cosine below which hits are dropped.
        instruction: one instruction for every part.

    Raises:
        QueryError: no query, or a malformed one.
    """
    if not tokens and image is None:
        raise QueryError("give a query text (q), an image upload, or both")
    if k + offset > MAX_RESULTS:
        raise QueryError(f"k + offset may be at most {MAX_RESULTS}, got {k + offset}")
    wanted = dict(k=k + offset, filters=list(where), min_score=min_score)
    if image is None:
        result = run_query(index, tokens, instruction=instruction, **wanted)
    else:
        parsed = parse_query(tokens) if tokens else None
        label = Path(f"upload:{Path(image_label).name or 'image'}")
        shown, embedded = _with_image(parsed, label, image)
        query_emb, used = embed_query(index.encoder, embedded, instruction=instruction)
        hits = index.search_vector(query_emb, **wanted)
        result = QueryResult(hits, shown.parts, used)
    return list(result.records())[offset:]  # ranked over all k + offset: page 2 starts at k + 1


def _with_image(
    parsed: ParsedQuery | None, label: Path, image: Image.Image
) -> tuple[ParsedQuery, ParsedQuery]:
    """The query with the image in its first part: as recorded (``label``) and as embedded.

    ``embed_query`` reads a part's image through ``load_image``, which takes a decoded image as
    it is; the upload never touches the disk.
    """
    if parsed is None:
        parsed = ParsedQuery((QueryPart(1.0),))
    first = parsed.parts[0]
    shown = ParsedQuery((replace(first, image=label), *parsed.parts[1:]))
    embedded = ParsedQuery((replace(first, image=cast(Path, image)), *parsed.parts[1:]))
    return shown, embedded
