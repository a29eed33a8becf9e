"""Terminal previews: which terminals get images, and the escapes they get."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image
from typer.testing import CliRunner

from vsearch.cli import app
from vsearch.preview import ITERM, KITTY, detect, inline_image

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
