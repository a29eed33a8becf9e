"""Terminal previews: which terminals get images, and the escapes they get."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vsearch.cli import app
from vsearch.preview import ITERM, KITTY, SIXEL, detect, inline_image, sixel

from ..conftest import write_image


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({"TERM": "xterm-kitty"}, True, KITTY),
        ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, True, KITTY),
        ({"TERM_PROGRAM": "ghostty"}, True, KITTY),
        ({"TERM_PROGRAM": "iTerm.app"}, True, ITERM),
        ({"TERM_PROGRAM": "WezTerm"}, True, ITERM),
        ({"TERM": "xterm-kitty"}, False, None),
        ({"TERM": "xterm-kitty", "TMUX": "/tmp/tmux"}, True, None),
        ({"TERM": "foot"}, True, SIXEL),
        ({"TERM": "xterm-256color", "KONSOLE_VERSION": "240202"}, True, SIXEL),
        ({"TERM": "xterm-256color", "WT_SESSION": "x"}, True, SIXEL),
        ({"TERM": "xterm-256color", "VSEARCH_PREVIEW": "sixel"}, True, SIXEL),
        ({"TERM": "xterm-kitty", "VSEARCH_PREVIEW": "iterm2"}, True, ITERM),
        ({"TERM": "xterm-kitty", "VSEARCH_PREVIEW": "braille"}, True, None),
        ({"TERM": "xterm-256color"}, True, None),
        ({}, True, None),
    ],
)
def test_detect(env, tty, expected):
    protocol, reason = detect(env, tty)
    assert protocol == expected and reason


def _jpeg(tmp_path, size=(300, 200)) -> bytes:
    path = write_image(tmp_path / "a.jpg", seed=1, size=size)
    return path.read_bytes()


def test_kitty_escape_carries_the_image_as_png_in_chunks(tmp_path):
    out = inline_image(_jpeg(tmp_path, (640, 480)), KITTY)
    chunks = re.findall(r"\x1b_G([^;]*);([^\x1b]*)\x1b\\", out)
    assert len(chunks) > 1 and chunks[0][0].startswith("a=T,f=100")
    assert [c[0].endswith("m=1") for c in chunks] == [True] * (len(chunks) - 1) + [False]
    png = base64.b64decode("".join(c[1] for c in chunks))
    assert Image.open(io.BytesIO(png)).size == (640, 480)


def test_iterm_escape_carries_the_jpeg(tmp_path):
    jpeg = _jpeg(tmp_path)
    out = inline_image(jpeg, ITERM)
    assert out.startswith("\x1b]1337;File=inline=1;") and out.endswith("\x07\n")
    assert base64.b64decode(out.split(":", 1)[1][:-2]) == jpeg


def test_query_preview_outside_a_terminal_says_so_in_one_line(index):
    result = CliRunner().invoke(
        app, ["query", "notes", "-k", "2", "--preview", "--index", str(index.folder)]
    )
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        "--preview: no inline images (standard output is not a terminal); showing paths only"
    )
    assert result.stdout.splitlines()[0].startswith("rank")


def _decode_sixel(data: str) -> tuple[np.ndarray, dict[int, tuple[int, int, int]]]:
    """A minimal sixel decoder (palette, bands, repeats): colour indices per pixel."""
    assert data.startswith("\x1bPq") and data.endswith("\x1b\\")
    body = data[3:-2]
    header, body = body.split("#", 1)
    width, height = (int(v) for v in header.lstrip('"').split(";")[2:4])
    pixels = np.full((height, width), -1)
    palette: dict[int, tuple[int, int, int]] = {}
    colour, x, top, i = 0, 0, 0, 0
    body = "#" + body
    while i < len(body):
        ch = body[i]
        if ch == "#":
            j = i + 1
            while j < len(body) and (body[j].isdigit() or body[j] == ";"):
                j += 1
            fields = [int(v) for v in body[i + 1 : j].split(";")]
            if len(fields) == 5:
                palette[fields[0]] = tuple(fields[2:])
            colour, i = fields[0], j
            continue
        repeat = 1
        if ch == "!":
            j = i + 1
            while body[j].isdigit():
                j += 1
            repeat, ch, i = int(body[i + 1 : j]), body[j], j
        if ch == "$":
            x = 0
        elif ch == "-":
            x, top = 0, top + 6
        else:
            bits = ord(ch) - 63
            for column in range(x, x + repeat):
                for dy in range(6):
                    if bits >> dy & 1:
                        pixels[top + dy, column] = colour
            x += repeat
        i += 1
    return pixels, palette


def test_sixel_draws_every_pixel_in_its_palette_colour(tmp_path):
    jpeg = _jpeg(tmp_path, (90, 40))  # 40 rows: the last band is partial
    out = sixel(jpeg, side=160, colours=16)
    pixels, palette = _decode_sixel(out)
    with Image.open(io.BytesIO(jpeg)) as image:
        expected = image.convert("RGB").quantize(16)
    assert pixels.shape == (40, 90)
    assert (pixels == np.asarray(expected)).all()
    table = np.asarray(expected.getpalette()[: 3 * 16]).reshape(-1, 3)
    assert all(rgb == tuple(v * 100 // 255 for v in table[c]) for c, rgb in palette.items())
    assert inline_image(jpeg, SIXEL) == sixel(jpeg) + "\n"
