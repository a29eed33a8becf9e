"""Where a page of a document is found: ``file.pdf#page=N`` (1-based), the path its item has."""

from __future__ import annotations

import re

_PAGE = re.compile(r"^(?P<file>.+\.[pP][dD][fF])#page=(?P<page>[1-9]\d*)$")


def page_path(relpath: str, page: int) -> str:
    """``"a/b.pdf#page=3"`` for page 3 of ``a/b.pdf``."""
    return f"{relpath}#page={page}"


def split_page(path: str) -> tuple[str, int | None]:
    """``("a/b.pdf", 3)`` for ``"a/b.pdf#page=3"``; ``(path, None)`` for a whole file."""
    match = _PAGE.match(path)
    if match is None:
        return path, None
    return match.group("file"), int(match.group("page"))
