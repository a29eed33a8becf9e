"""What routes share: the index a request names, and items looked up by id (never by path)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.exceptions import HTTPException

from vsearch.index import Hit
from vsearch.serve.state import Served, ServerState

_ITEM_ID = re.compile(r"[0-9]{1,18}")

IndexName = Annotated[
    str | None,
    Query(description="The index's name (see /api/indexes) or its folder; default: the first."),
]


def served(request: Request, index: IndexName = None) -> Served:
    """The index a request names (a route dependency)."""
    state: ServerState = request.app.state.vsearch
    return state.get(index)


ServedIndex = Annotated[Served, Depends(served)]


def item_or_404(target: Served, item_id: str, *, kind: str | None = None) -> Hit:
    """The indexed item with id ``item_id``; anything else (a path, ``..``, no such id) is 404.

    Args:
        target: the served index.
        item_id: the id as the URL gives it.
        kind: the kind the route needs (``image`` for thumbnails), if any.

    Raises:
        HTTPException: 404.
    """
    hit = target.index.get(int(item_id)) if _ITEM_ID.fullmatch(item_id) else None
    if hit is None:
        raise HTTPException(404, f"no item {item_id!r} in the index {target.name!r}")
    if kind is not None and hit.kind != kind:
        raise HTTPException(404, f"item {item_id} is a {hit.kind}, not an {kind}")
    return hit
