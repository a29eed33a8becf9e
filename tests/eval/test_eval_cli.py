"""`vsearch eval` through the Typer app; skipped until cli.py has the eval command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_fakes import FakeEncoder

typer_testing = pytest.importorskip("typer.testing")
# ImportError too: a vsearch.cli written against a newer vsearch than this checkout.
cli = pytest.importorskip(
    "vsearch.cli", reason="vsearch.cli cannot be imported", exc_type=ImportError
)


def _has_eval_command() -> bool:
    import typer.main

    command = typer.main.get_command(cli.app)
    return "eval" in getattr(command, "commands", {})


pytestmark = pytest.mark.skipif(
    not hasattr(cli, "app") or not _has_eval_command(),
    reason="vsearch.cli has no `eval` command yet",
)


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from vsearch.encoders import registry

    registry.names()  # register the built-ins first, so ours is not overwritten
    monkeypatch.setitem(registry._FACTORIES, "fake-hash", lambda **_: FakeEncoder())


def invoke(*args: str):
    return typer_testing.CliRunner().invoke(cli.app, ["eval", *args])


def test_eval_prints_the_table_and_writes_the_json(colour_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = invoke(str(colour_data), "--model", "fake-hash", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "model: fake-hash (test)"
    assert any(line.startswith("VOC2007") and line.endswith("66.7   100.0") for line in lines)
    assert lines[-1].startswith("Overall (2)")
    assert json.loads(out.read_text())["model"]["model_id"] == "fake-hash"


def test_eval_json_and_limit(colour_data: Path) -> None:
    result = invoke(str(colour_data), "--model", "fake-hash", "--limit", "1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [d["n_queries"] for d in report["datasets"]] == [1, 1]


def test_eval_errors_exit_1_with_a_message(colour_data: Path, tmp_path: Path) -> None:
    result = invoke(str(tmp_path / "missing"), "--model", "fake-hash")
    assert result.exit_code == 1
    assert "no such file or folder of MMEB-eval data" in result.output
    result = invoke(str(colour_data), "--model", "fake-hash", "--image-root", str(tmp_path))
    assert result.exit_code == 1
    assert "--image-root" in result.output


def test_eval_has_help() -> None:
    result = typer_testing.CliRunner().invoke(cli.app, ["eval", "--help"])
    assert result.exit_code == 0
    assert "--image-root" in result.output
