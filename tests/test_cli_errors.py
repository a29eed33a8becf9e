"""Quiet, one-line failures on the command line: a missing database driver, a wrong database
password, and a model load that prints nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from vsearch.cli import app

from .conftest import DATA

runner = CliRunner()


def one_line_failure(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    return result.stderr


def test_a_missing_database_driver_is_one_line(tmp_path, photo_dir):
    args = ["ingest", str(photo_dir), "--index", str(tmp_path / "idx"), "--model", "test-hash"]
    result = runner.invoke(app, [*args, "--store", "postgresql+pg8000://me:pw@127.0.0.1/db"])
    line = one_line_failure(result)
    assert line.startswith("error: no database driver for postgresql+pg8000://me:***@")
    assert "pip install 'vsearch[postgres]'" in line and ":pw@" not in line
    assert not (tmp_path / "idx" / "vsearch.json").exists()


def test_a_wrong_database_password_is_one_line(tmp_path, photo_dir, pg_server):
    wrong = pg_server.url().replace(pg_server.password, "wrong")
    args = ["ingest", str(photo_dir), "--index", str(tmp_path / "idx"), "--model", "test-hash"]
    line = one_line_failure(runner.invoke(app, [*args, "--store", wrong]))
    assert "password authentication failed" in line and "wrong" not in line


def test_loading_the_default_model_for_a_task_prints_nothing_on_stderr(tmp_path):
    """The transformers FutureWarning that peft raises while the mini model is built used to
    print on every rank/classify/ground."""
    repo = Path(__file__).parents[1]
    env = {**os.environ, "PYTHONWARNINGS": "default", "PYTHONPATH": str(repo)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vsearch.cli",
            "classify",
            str(DATA / "cat.jpg"),
            "--labels",
            "a cat",
            "a dog",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.split()[1:3] == ["a", "cat"]
