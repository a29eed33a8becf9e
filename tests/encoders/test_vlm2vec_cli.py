"""Tiny VLM2Vec checkpoints of both native backbones, end to end through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vsearch.cli import app

from ..conftest import write_image

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("backbone", ["tiny_qwen2_vl", "tiny_llava_next"])
def test_tiny_checkpoint_ingests_and_answers_queries(backbone, request, tmp_path):
    model = request.getfixturevalue(backbone)
    photos = tmp_path / "photos"
    for i in range(4):
        write_image(photos / f"p{i}.png", seed=i, size=(64, 48), fmt="PNG")
    (photos / "note.md").write_text("a note about red cars")
    index = tmp_path / "idx"
    options = ["--model", model, "--device", "cpu", "--dtype", "float32"]
    result = run("ingest", photos, "--index", index, *options, "--batch-size", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 5

    result = run("query", "--image", photos / "p2.png", "--index", index, "-k", "2", "--json")
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0, result.output
    assert hits[0]["path"] == "p2.png" and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)

    result = run("query", "red cars", "--index", index, *options, "-k", "5", "--json")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 5

    info = json.loads(run("info", "--index", index, "--json").stdout)
    assert info["encoder"]["pooling"] == "last-token" and info["encoder"]["dim"] == 64

    result = run("query", "red cars", "--index", index, "--model", "label-bridge")
    assert result.exit_code == 1 and "--reindex" in result.stderr
