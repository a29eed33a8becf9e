"""Inline thumbnails in the terminal (``vsearch query --preview``): kitty, iTerm2 and sixel.

Kitty's graphics protocol (kitty, Ghostty) takes PNG data in base64 chunks; iTerm2's inline
images (iTerm2, WezTerm) take any image file in one escape; sixel (foot, mlterm, Konsole,
Windows Terminal, xterm -ti vt340) takes a palette and six-pixel bands, encoded here. Terminals
are recognised by their environment; ``VSEARCH_PREVIEW=kitty|iterm2|sixel`` names the protocol
where that guess fails (xterm cannot be told from its variables). Other terminals, a stream that
is not a terminal, and tmux/screen (which swallow the escapes) get no images: ``detect`` says
why. Nothing here writes to a terminal; the CLI writes what these functions return.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping

KITTY = "kitty"
ITERM = "iterm2"
SIXEL = "sixel"
PROTOCOLS = (KITTY, ITERM, SIXEL)
ROWS = 8  # the height of a preview in terminal rows
SIXEL_SIDE = 160  # sixel has no scaling: the image is drawn at this many pixels
_CHUNK = 4096
_SIXEL_TERMS = ("foot", "foot-extra", "mlterm", "yaft-256color", "contour")


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
    forced = env.get("VSEARCH_PREVIEW", "").strip().lower()
    if forced:
        if forced in PROTOCOLS:
            return forced, f"VSEARCH_PREVIEW={forced}"
        return None, f"VSEARCH_PREVIEW={forced} is none of {', '.join(PROTOCOLS)}"
    term, program = env.get("TERM", ""), env.get("TERM_PROGRAM", "")
    if env.get("TMUX") or term.startswith(("screen", "tmux")):
        return None, "tmux/screen do not pass inline images through"
    if term == "xterm-kitty" or env.get("KITTY_WINDOW_ID") or program == "ghostty":
        return KITTY, "kitty graphics protocol"
    if program in ("iTerm.app", "WezTerm") or env.get("LC_TERMINAL") == "iTerm2":
        return ITERM, "iTerm2 inline images"
    if (
        term in _SIXEL_TERMS
        or "sixel" in term
        or env.get("KONSOLE_VERSION")
        or env.get("WT_SESSION")
    ):
        return SIXEL, "sixel"
    return None, (
        f"this terminal (TERM={term or 'unset'}) has no known image protocol; "
        "set VSEARCH_PREVIEW=kitty, iterm2 or sixel if it has one"
    )


def inline_image(jpeg: bytes, protocol: str, rows: int = ROWS) -> str:
    """The escape sequence that draws ``jpeg`` ``rows`` terminal rows high, then a newline.

    Args:
        jpeg: a JPEG thumbnail.
        protocol: ``KITTY``, ``ITERM`` or ``SIXEL`` (from :func:`detect`).
        rows: the height in terminal rows.
    """
    if protocol == ITERM:
        data = base64.b64encode(jpeg).decode()
        return (
            f"\x1b]1337;File=inline=1;size={len(jpeg)};height={rows};preserveAspectRatio=1:"
            f"{data}\x07\n"
        )
    if protocol == SIXEL:
        return sixel(jpeg) + "\n"
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


def sixel(jpeg: bytes, side: int = SIXEL_SIDE, colours: int = 255) -> str:
    """A DCS sixel sequence drawing ``jpeg`` fitted into ``side`` x ``side`` pixels.

    The image is quantized to ``colours`` palette entries; each band of six rows is written as
    one run-length-encoded line per colour present in it.
    """
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        rgb = image.convert("RGB")
    rgb.thumbnail((side, side))
    indexed = rgb.quantize(colours)
    pixels = np.asarray(indexed, dtype=np.int16)
    height, width = pixels.shape
    palette = np.asarray(indexed.getpalette()[: 3 * colours], dtype=np.int32).reshape(-1, 3)
    out = [f'\x1bPq"1;1;{width};{height}']
    used = np.unique(pixels)
    out += [f"#{c};2;" + ";".join(str(v * 100 // 255) for v in palette[c]) for c in used]
    weights = (1 << np.arange(6, dtype=np.int16))[:, None]
    for top in range(0, height, 6):
        band = pixels[top : top + 6]
        lines = []
        for colour in np.unique(band):
            bits = ((band == colour) * weights[: len(band)]).sum(axis=0)
            lines.append(f"#{colour}" + _run_length("".join(chr(63 + int(b)) for b in bits)))
        out.append("$".join(lines) + "-")
    return "".join(out) + "\x1b\\"


def _run_length(row: str) -> str:
    """Sixel's repeat introducer: ``!N`` before a character repeated N (> 3) times."""
    out, start = [], 0
    while start < len(row):
        end = start
        while end < len(row) and row[end] == row[start]:
            end += 1
        count = end - start
        out.append(f"!{count}{row[start]}" if count > 3 else row[start] * count)
        start = end
    return "".join(out)
