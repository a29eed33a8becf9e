"""Long texts in pieces the text model reads whole: MiniLM reads 256 word pieces (about 1,000
characters of English), so a longer text is embedded chunk by chunk, each an item at
``file#chars=OFFSET``."""

from __future__ import annotations

#: Characters per chunk, at most (cut back to the last space in its second half).
CHUNK_CHARS = 1_000
#: Characters each chunk repeats of the one before, so a phrase across a cut is found whole.
OVERLAP = 150
#: A text file larger than this (bytes) is chunked; smaller ones hold at most this many
#: characters and stay one item.
CHUNKED_FROM_BYTES = CHUNK_CHARS


def chunks(text: str) -> list[tuple[int, str]]:
    """``(offset, piece)`` of ``text``: pieces of at most ``CHUNK_CHARS`` characters, cut at
    spaces where one is near, overlapping by about ``OVERLAP``; ``text[offset:]`` starts with
    ``piece``."""
    out: list[tuple[int, str]] = []
    start = _skip_space(text, 0)
    while start < len(text):
        end = min(len(text), start + CHUNK_CHARS)
        if end < len(text):
            cut = max(
                text.rfind(" ", start + CHUNK_CHARS // 2, end),
                text.rfind("\n", start + CHUNK_CHARS // 2, end),
            )
            end = cut if cut > start else end
        piece = text[start:end].rstrip()
        if piece:
            out.append((start, piece))
        if end >= len(text):
            break
        following = max(end - OVERLAP, start + 1)
        space = text.find(" ", following, end)
        start = _skip_space(text, space + 1 if space != -1 else following)
    return out


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at
