"""How a path or a name is shown to a person: one line, whatever bytes the name holds."""

from __future__ import annotations

import os

_CONTROLS = {c: f"\\x{c:02x}" for c in range(32)} | {10: "\\n", 9: "\\t", 13: "\\r", 127: "\\x7f"}


def printable(name: str | os.PathLike[str]) -> str:
    """``name`` with bytes that are not UTF-8 written as ``\\xff`` and control characters
    (newlines, tabs) escaped, so a listing keeps one name per line.

    >>> printable("bad\\udcffname.jpg"), printable("two\\nlines.png")
    ('bad\\\\xffname.jpg', 'two\\\\nlines.png')
    """
    text = os.fsdecode(name) if not isinstance(name, str) else name
    readable = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return readable.translate(_CONTROLS)
