"""Inline thumbnails in the terminal (``vsearch query --preview``): kitty and iTerm2 protocols.

Kitty's graphics protocol (kitty, Ghostty) takes PNG data in base64 chunks; iTerm2's inline
images (iTerm2, WezTerm) take any image file in one escape. Other terminals, a stream that is not
a terminal, and tmux/screen (which swallow the escapes) get no images: ``detect`` says why.
Nothing here writes to a terminal; the CLI writes what these functions return.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

KITTY = "kitty"
ITERM = "iterm2"
ROWS = 8  # the height of a preview in terminal rows
_CHUNK = 4096


def detect(env: Mapping[str, str], is_tty: bool) -> tuple[str | None, str]:
    """The image protocol this terminal speaks, or None and the reason it has none.

    Args:
        env: the environment (``TERM``, ``TERM_PROGRAM``, ``KITTY_WINDOW_ID``, ``TMUX``).
        is_tty: whether standard output is a terminal.

    Returns:
        ``(protocol or None, reason)``.
    """
    if not is_tty:
        return None, "standard output is not a terminal"
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("TMUX") or term.startswith(("screen", "tmux")):
        return None, "tmux/screen do not pass inline images through"
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID") or program == "ghostty":
        return KITTY, "kitty graphics protocol"
    if program in ("iTerm.app", "WezTerm") or env.get("LC_TERMINAL") == "iTerm2":
        return ITERM, "iTerm2 inline images"
    return None, f"this terminal (TERM={term or 'unset'}) has no known image protocol"


def inline_image(jpeg: bytes, protocol: str, rows: int = ROWS) -> str:
    """The escape sequence that draws ``jpeg`` ``rows`` terminal rows high, then a newline.

    Args:
        jpeg: a JPEG thumbnail.
        protocol: ``KITTY`` or ``ITERM`` (from :func:`detect`).
        rows: the height in terminal rows.
    """
    if protocol == ITERM:
        data = base64.b64encode(jpeg).decode()
        return (
            f"\x1b]1337;File=inline=1;size={len(jpeg)};height={rows};preserveAspectRatio=1:"
            f"{data}\x07\n"
        )
    if protocol != KITTY:
        raise ValueError(f"unknown image protocol {protocol!r}")
    data = base64.b64encode(_png(jpeg)).decode()
    chunks = [data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK)] or [""]
    out = []
    for n, chunk in enumerate(chunks):
        more = int(n < len(chunks) - 1)
        head = f"a=T,f=100,r={rows},m={more}" if n == 0 else f"m={more}"
        out.append(f"\x1b_G{head};{chunk}\x1b\\")
    return "".join(out) + "\n"


def _png(jpeg: bytes) -> bytes:
    """Kitty reads PNG (or raw pixels), not JPEG."""
    from PIL import Image

    out = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as image:
        image.save(out, format="PNG")
    return out.getvalue()
