"""Help that helps: every command and option has help text and an entry in the README, help is
printed as written, and the vocabulary is one across commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vsearch import cli_reference
from vsearch.cli import app

runner = CliRunner()
README = Path(__file__).parents[1] / "README.md"


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_every_command_and_option_has_help_text_and_a_readme_entry():
    group = cli_reference.app_group()
    found = dict(cli_reference.commands(group))
    assert {"vsearch ingest", "vsearch watch", "vsearch folders", "vsearch folders remove"} <= set(
        found
    )
    assert {"vsearch config", "vsearch query", "vsearch dupes", "vsearch serve"} <= set(found)
    for name, command in [("vsearch", group), *found.items()]:
        assert (command.help or "").strip(), f"{name} has no help text"
        for param in cli_reference.visible_params(command):
            assert (getattr(param, "help", None) or "").strip(), f"{name} {param.name}: no help"
    readme = README.read_text()
    current = cli_reference.render(group)
    assert current in readme, (
        "README's command reference is stale: python -m vsearch.cli_reference README.md"
    )
    for name, command in found.items():
        assert f"#### `{name}`" in readme
        for param in cli_reference.visible_params(command):
            assert cli_reference.param_names(param) in readme


def test_help_is_printed_as_written_without_type_placeholders():
    text = run("query", "--help").stdout
    assert "[env VSEARCH_INDEX; default: indexes/default in the user data folder" in " ".join(
        text.split()
    )
    assert "<bool>" not in text and "--no-paths" not in text
    classify = run("classify", "--help").stdout
    assert "--labels LABEL..." in classify and "--image FILE" in classify
    assert "--answers ANSWER..." in run("rank", "--help").stdout


def test_version_and_shell_completion():
    from importlib.metadata import version

    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, f"vsearch {version('vsearch')}\n")
    top = run("--help").stdout
    assert "--install-completion" in top and "--show-completion" in top


def test_python_m_vsearch_cli_has_every_command():
    done = subprocess.run(
        [sys.executable, "-m", "vsearch.cli", "--help"], capture_output=True, text=True, check=True
    )
    for name in ("rank", "ground", "classify", "similar", "dupes", "serve", "watch", "folders"):
        assert f"  {name} " in done.stdout, name


def test_misuse_is_one_line_with_exit_1():
    result = run("query", "cat", "--frobnicate")
    assert result.exit_code == 1
    assert result.stderr == "error: no such option: --frobnicate (see --help)\n"
    result = run("query", "cat", "-k", "0")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1


@pytest.fixture
def indexed(tmp_path):
    from .conftest import write_image

    root = tmp_path / "photos"
    write_image(root / "a.png", seed=1, size=(64, 64))
    write_image(root / "a-small.png", seed=1, size=(32, 32))
    write_image(root / "b.png", seed=2)
    index = tmp_path / "idx"
    assert run("ingest", root, "--index", index, "--model", "test-hash").exit_code == 0
    return index, root


def test_one_name_per_concept_with_the_old_names_hidden(indexed, monkeypatch):
    index, root = indexed
    monkeypatch.chdir(root)
    new = run("dupes", "--min-score", "0.5", "--index", index, "--paths")
    old = run("dupes", "--threshold", "0.5", "--index", index, "--paths")
    assert new.exit_code == 0 and new.stdout == old.stdout
    assert "--threshold" not in run("dupes", "--help").stdout
    ground = ["--model", "test-hash", "--box", "0,0,8,8", "--box", "8,8,16,16", "--box", "0,8,8,16"]
    by_k = run("ground", "--image", root / "b.png", "red", "-k", "2", *ground)
    by_top = run("ground", root / "b.png", "red", "--top", "2", *ground)
    assert by_k.exit_code == 0, by_k.output
    assert len(by_k.stdout.splitlines()) == 2 and by_k.stdout == by_top.stdout
    classified = run(
        "classify", "b.png", "--image", "a.png", "--labels", "x", "y", "--model", "test-hash"
    )
    assert classified.exit_code == 0, classified.output
    assert [line.split()[-1] for line in classified.stdout.splitlines()] == [
        str(root.resolve() / "b.png"),
        str(root.resolve() / "a.png"),
    ]
    items = run("classify", "--labels", "x", "y", "--index", index)
    assert all(
        line.split()[-1].startswith(str(root.resolve())) for line in items.stdout.splitlines()
    )


def test_eval_json_is_one_ndjson_line(tmp_path):
    from .conftest import write_image

    write_image(tmp_path / "q.png", seed=1)
    row = {
        "qry_text": "<|image_1|> what",
        "qry_img_path": "q.png",
        "tgt_text": ["a", "b"],
        "tgt_img_path": ["", ""],
    }
    data = tmp_path / "ImageNet-1K.jsonl"
    data.write_text(json.dumps(row) + "\n")
    result = run("eval", data, "--model", "test-hash", "--image-root", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and isinstance(json.loads(lines[0]), dict)
