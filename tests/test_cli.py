"""The CLI through typer's runner: exit codes and exact output, error paths included."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vsearch.cli import app

from .conftest import DATA, write_image

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def indexed(tmp_path, photo_dir):
    index = tmp_path / "idx"
    result = run("ingest", photo_dir, "--index", index, "--model", "test-hash")
    assert result.exit_code == 0, result.output
    return index, photo_dir


def test_ingest_prints_an_exact_summary(tmp_path, photo_dir):
    (photo_dir / "broken.png").write_bytes(b"nope")
    result = run("ingest", photo_dir, "--index", tmp_path / "idx", "--model", "test-hash")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "added 7, updated 0, moved 0, removed 0, unchanged 0, failed 1 (7 encoded, 0 reused, "
    )
    assert (
        lines[1]
        == "  failed: broken.png: not a recognised image (unknown format or wrong extension)"
    )


def test_rerun_without_folder_uses_the_recorded_one_and_json_works(indexed):
    index, _ = indexed
    result = run("ingest", "--index", index, "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["unchanged"], report["encoded"], report["failed"]) == (7, 0, [])


def test_query_json_is_ndjson_ranked(indexed):
    index, photo_dir = indexed
    result = run("query", "--image", photo_dir / "img3.png", "--index", index, "-k", "3", "--json")
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["path"] == "img3.png" and rows[0]["score"] == pytest.approx(1.0)
    assert rows[0]["width"] == 48


def test_query_table(indexed):
    index, photo_dir = indexed
    result = run("query", "--image", photo_dir / "img3.png", "--index", index, "-k", "2")
    assert result.exit_code == 0
    header, first, _ = result.stdout.splitlines()
    assert header.split() == ["rank", "score", "size", "date", "path"]
    assert first.split()[:2] == ["1", "1.000"]
    assert first.endswith(str((photo_dir / "img3.png").resolve()))


def test_tune_rebuilds_with_another_kind_and_refuses_bad_settings_in_one_line(indexed):
    index, photo_dir = indexed
    result = run("tune", "--index", index, "--kind", "hnsw", "--ef-search", "64", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["index_kind"] == "hnsw" and facts["index_params"] == {"ef_search": 64}
    assert 0 <= facts["index_recall"] <= 1  # measured on its own vectors
    hits = run("query", "--image", photo_dir / "img3.png", "--index", index, "-k", "1", "--json")
    assert json.loads(hits.stdout)["path"] == "img3.png"
    text = run("tune", "--index", index, "--kind", "auto", "--auto").stdout
    assert "index_kind: flat" in text and "index_recall: None" in text
    for bad in (["--recall", "1.5"], ["--kind", "annoy"], ["--nprobe", "0"]):
        result = run("tune", "--index", index, *bad)
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, bad


def test_info(indexed):
    index, _ = indexed
    result = run("info", "--index", index, "--json")
    facts = json.loads(result.stdout)
    assert (facts["items"], facts["vectors"], facts["index_kind"]) == (7, 7, "flat")
    assert facts["encoder"]["model_id"] == "test-hash"
    text = run("info", "--index", index).stdout
    assert "items: 7" in text and "encoder: test-hash (dim 16)" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "x", "--index", "{tmp}/none"], "error: no vsearch index at {tmp}/none"),
        (
            ["ingest", "{tmp}/missing", "--index", "{tmp}/i2", "--model", "test-hash"],
            "does not exist",
        ),
        (
            ["ingest", "{tmp}", "--index", "{tmp}/i3", "--model", "nope"],
            "error: no model directory at 'nope'",
        ),
        (["query", "--index", "{tmp}/none"], "error: give a query text, --image FILE, or both"),
        (["info", "--index", "{tmp}/none"], "error: no vsearch index"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(tmp_path, args, message):
    result = run(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert message.format(tmp=tmp_path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_query_image_and_model_mismatch(indexed, tmp_path):
    index, _ = indexed
    result = run("query", "--image", tmp_path / "nope.jpg", "--index", index)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: query image {tmp_path / 'nope.jpg'} does not exist"
    result = run("query", "cat", "--index", index, "--model", "label-bridge")
    assert result.exit_code == 1
    assert "was built with test-hash" in result.stderr and "--reindex" in result.stderr


def test_reindex_with_another_model(indexed):
    index, _ = indexed
    result = run("ingest", "--index", index, "--model", "label-bridge", "--reindex", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["updated"] == 7
    result = run("query", "shopping list with apples", "--index", index, "-k", "1", "--json")
    assert json.loads(result.stdout)["path"] == "notes.txt"


def test_end_to_end_with_the_default_model_on_real_photos(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ["cat", "coffee", "rocket"]:
        (photos / f"{name}.jpg").write_bytes((DATA / f"{name}.jpg").read_bytes())
    write_image(photos / "noise.png", seed=3, fmt="PNG")
    assert run("ingest", photos, "--index", tmp_path / "idx").exit_code == 0
    for query, expected in [("a cat", "cat.jpg"), ("a cup of coffee", "coffee.jpg")]:
        result = run("query", query, "--index", tmp_path / "idx", "-k", "1", "--json")
        assert json.loads(result.stdout)["path"] == expected


def test_every_command_has_help():
    for command in ["ingest", "query", "info"]:
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.stdout
    assert "ingest" in run("--help").stdout


def test_vsearch_index_env_and_exclude(tmp_path, photo_dir, monkeypatch):
    monkeypatch.setenv("VSEARCH_INDEX", str(tmp_path / "from-env"))
    result = run(
        "ingest", photo_dir, "--model", "test-hash", "-x", "sub", "--exclude", "*.txt", "--json"
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["added"] == 4
    assert (tmp_path / "from-env" / "vsearch.json").exists()
    assert json.loads(run("info", "--json").stdout)["items"] == 4


def test_every_command_has_help_text_and_a_readme_entry():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    commands = {c.name or c.callback.__name__: c for c in app.registered_commands}
    assert {
        "ingest",
        "query",
        "info",
        "train",
        "rank",
        "ground",
        "classify",
        "similar",
        "dupes",
    } <= set(commands)
    for name, command in commands.items():
        assert (command.callback.__doc__ or "").strip(), f"{name} has no help text"
        assert f"vsearch {name}" in readme, f"README has no example of vsearch {name}"


@pytest.mark.parametrize(
    ("device", "message"),
    [("cuda", "torch sees no CUDA device here"), ("gpu", "unknown device 'gpu'")],
)
def test_an_unusable_device_is_one_line(tmp_path, device, message):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA: --device cuda is usable here")
    image = write_image(tmp_path / "x.png", seed=1, fmt="PNG")
    args = ["rank", "--image", image, "-q", "what is it?", "--answers", "a", "b"]
    result = run(*args, "--device", device, "--model", "label-bridge")
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.count("\n") == 1
