"""Every vsearch command the README shows runs as written after `make demo`.

The demo is built as the Makefile builds it (train/data/demo_photos.py, then an ingest into
indexes/demo) in a temporary folder that stands for the repository root, once for the module;
each command then runs in that folder, in README order, with the `export`s the README makes
before it. Commands that run until stopped, or need what the demo does not have (a GPU model,
a PostgreSQL server), are named below with the reason, and so are the lines of their block
that depend on them.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vsearch.cli import app

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
NOT_RUN = {
    "vsearch serve": "runs until stopped",
    "vsearch watch": "runs until stopped",
    "--store postgresql://": "needs that PostgreSQL server",
    "--ray-address ray://": "needs that Ray cluster",
    "--device cuda": "needs a GPU and that model",
}
FIRST_EXAMPLE = "vsearch ingest ~/Pictures /mnt/phone"  # the one line about your own folders


def readme_commands() -> list[tuple[str, dict[str, str], str | None]]:
    """``(command, exports so far, reason it is not run or None)`` for each README example."""
    found, env = [], {}
    blocks = re.findall(r"^```(sh|console)\n(.*?)^```", README.read_text(), re.M | re.S)
    for kind, body in blocks:
        skipped = None
        for line in body.splitlines():
            text = line.removeprefix("$ ") if kind == "console" else line
            if kind == "console" and not line.startswith("$ "):
                continue  # output
            if text.startswith("export "):
                name, value = text.removeprefix("export ").split("=", 1)
                env[name] = value
            if not text.startswith("vsearch "):
                continue
            reason = next((why for sign, why in NOT_RUN.items() if sign in text), None)
            if text.startswith(FIRST_EXAMPLE):
                reason = "names the reader's own folders (the demo lines below do it for real)"
            skipped = reason or (skipped and f"follows a line that {skipped}")
            found.append((text, dict(env), skipped))
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    pytest.importorskip("skimage", reason="the demo photos come from scikit-image (demo extra)")
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(ROOT / "train/data/demo_clipart", root / "train/data/demo_clipart")
    subprocess.run(
        [sys.executable, str(ROOT / "train/data/demo_photos.py"), str(root / "demo-photos")],
        check=True,
        capture_output=True,
    )
    made = CliRunner().invoke(
        app, ["ingest", str(root / "demo-photos"), "--index", str(root / "indexes/demo")]
    )
    assert made.exit_code == 0, made.output
    return root


def test_the_readme_shows_the_commands_it_should():
    commands = [c for c, _, _ in readme_commands()]
    for name in ("ingest", "folders", "watch", "config", "query", "similar", "dupes", "rank"):
        assert any(c.startswith(f"vsearch {name}") for c in commands), name
    assert "../shared" not in README.read_text() and "DESIGN.md" not in README.read_text()


def test_every_readme_command_runs_on_the_demo(demo, monkeypatch):
    monkeypatch.chdir(demo)
    ran = 0
    for command, env, reason in readme_commands():
        if reason is not None:
            continue
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        args = shlex.split(command, comments=True)[1:]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, f"{command}\n{result.output}"
        assert "error:" not in result.stderr, command
        ran += 1
    assert ran >= 20
