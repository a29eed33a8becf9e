"""Items that are part of a file: a PDF's page (``file.pdf#page=3``, 1-based) or a long text's
chunk (``notes.md#chars=2000``, its offset in characters of the text). The path of such an item
is its file's path with the anchor; no file the crawler indexes has a name of that form (its
extension would end in the anchor)."""

from __future__ import annotations

import re

_PART = re.compile(r"^(?P<file>.+)#(?P<anchor>page|chars)=(?P<n>0|[1-9]\d*)$")


def part_path(relpath: str, anchor: str, number: int) -> str:
    """``"a/b.pdf#page=3"`` for ``("a/b.pdf", "page", 3)``."""
    return f"{relpath}#{anchor}={number}"


def split_part(path: str) -> tuple[str, str | None, int | None]:
    """``("a/b.pdf", "page", 3)`` for ``"a/b.pdf#page=3"``; ``(path, None, None)`` for a whole
    file."""
    match = _PART.match(path)
    if match is None:
        return path, None, None
    return match.group("file"), match.group("anchor"), int(match.group("n"))


def file_of(path: str) -> str:
    """The file an item's path belongs to (itself for a whole file)."""
    return split_part(path)[0]


def anchor_of(path: str) -> str:
    """``"#page=3"``, ``"#chars=2000"``, or ``""`` for a whole file."""
    file = file_of(path)
    return path[len(file) :]
