"""The query-layer commands through typer's runner: the same results as the library, exact
output, one-line errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vsearch.cli import app
from vsearch.index import Index
from vsearch.query import (
    classify_images,
    classify_items,
    find_duplicates,
    ground,
    rank_answers,
    run_query,
    similar,
)

from ..conftest import HashEncoder

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def ndjson(result):
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def indexed(tmp_path, photo_dir):
    shutil.copy(photo_dir / "img3.png", photo_dir / "sub" / "img3-copy.png")
    index = tmp_path / "idx"
    assert run("ingest", photo_dir, "--index", index, "--model", "test-hash").exit_code == 0
    return index, photo_dir


def test_query_arithmetic_json_is_the_library_result(indexed):
    index, photos = indexed
    tokens = [f"2:{photos / 'img3.png'}", "+", "shopping", "list", "-", "0.5:fruit"]
    rows = ndjson(run("query", *tokens, "--index", index, "-k", "4", "--json"))
    with Index.open(index) as idx:
        expected = list(run_query(idx, tokens, k=4).records())
    assert rows == json.loads(json.dumps(expected))
    assert [p["weight"] for p in rows[0]["parts"]] == [2.0, 1.0, -0.5]
    assert rows[0]["instruction"] is None and rows[0]["parts"][1]["text"] == "shopping list"


def test_query_composed_records_the_instruction_and_paths_pipe(indexed):
    index, photos = indexed
    rows = ndjson(
        run("query", "but red", "--image", photos / "img3.png", "--index", index, "--json")
    )
    assert rows[0]["instruction"].startswith("Given an image, find a similar everyday image")
    result = run("query", "--image", photos / "img3.png", "--index", index, "-k", "2", "--paths")
    assert sorted(result.stdout.splitlines()) == [  # identical files: tied scores
        str((photos / "img3.png").resolve()),
        str((photos / "sub" / "img3-copy.png").resolve()),
    ]


def test_query_filters_and_min_score(indexed):
    index, photos = indexed
    result = run(
        "query", "--image", photos / "img3.png", "--index", index, "-k", "5",
        "--where", "folder=sub", "-w", "kind=image", "--min-score", "0.5", "--paths",
    )  # fmt: skip
    assert result.stdout.splitlines() == [str((photos / "sub" / "img3-copy.png").resolve())]
    result = run("query", "x", "--index", index, "--min-score", "1.0")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no results: nothing passed the filters and --min-score" in result.stderr
    result = run("query", "x", "--index", index, "--min-score", "1.5")  # no cosine is 1.5
    assert result.exit_code == 1 and "in [-1, 1], got 1.5" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "cat", "+"], "error: the query ends with '+': a part must follow it"),
        (["query", "./nope.jpg"], "error: query image ./nope.jpg does not exist"),
        (["query", "cat", "-w", "colour=red"], "error: unknown filter field 'colour'"),
        (["query", "cat", "-", "cat"], "error: the query's weighted parts cancel out"),
        (["similar", "nope.jpg"], "error: nope.jpg is not in the index"),
        (["rank", "--image", "{photos}/img0.jpg", "-q", "Why?"], "error: no answers given"),
        (["classify", "{photos}/img0.jpg", "--labls", "a"], "error: no such option: --labls"),
        (["ground", "{photos}/img0.jpg", "x", "--box", "1,2,3"], "error: --box 1,2,3: write LEFT"),
        (["ground", "{photos}/img0.jpg"], "error: give what to find"),
        (["dupes", "--threshold", "3"], "error: threshold is a cosine similarity"),
    ],
)
def test_errors_are_one_line_with_exit_1(indexed, args, message):
    index, photos = indexed
    full = [a.format(photos=photos) for a in args]
    if args[0] in ("query", "similar", "dupes", "classify"):
        full += ["--index", index]
    if args[0] in ("rank", "ground", "classify"):
        full += ["--model", "test-hash"]
    result = run(*full)
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_index_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    assert (
        run(
            "ingest", tmp_path / "empty", "--index", tmp_path / "idx", "--model", "test-hash"
        ).exit_code
        == 0
    )
    result = run("query", "x", "--index", tmp_path / "idx")
    assert result.exit_code == 1 and "is empty; run `vsearch ingest`" in result.stderr


def test_rank_matches_the_library_with_answers_from_a_file(indexed, tmp_path):
    _, photos = indexed
    (tmp_path / "answers.txt").write_text("green\n# comment\n")
    args = [
        "--image",
        photos / "img0.jpg",
        "--question",
        "What colour?",
        "--answers",
        "red",
        "blue",
    ]
    rows = ndjson(
        run(
            "rank",
            *args,
            "--answers-file",
            tmp_path / "answers.txt",
            "--model",
            "test-hash",
            "--json",
        )
    )
    ranked = rank_answers(
        HashEncoder(), photos / "img0.jpg", "What colour?", ["red", "blue", "green"]
    )
    assert rows == [{"rank": i, **r.to_dict()} for i, r in enumerate(ranked, 1)]
    table = run("rank", *args, "--model", "test-hash").stdout.splitlines()
    assert [line.split()[2] for line in table] == [r.label for r in ranked if r.label != "green"]


def test_ground_matches_the_library_and_draws(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "canvas.png")
    Image.fromarray(pixels).crop((48, 32, 96, 64)).save(tmp_path / "crop.png")
    args = [
        "ground",
        tmp_path / "canvas.png",
        "--like",
        tmp_path / "crop.png",
        "--model",
        "test-hash",
    ]
    rows = ndjson(run(*args, "--json", "--draw", tmp_path / "out.png"))
    regions = ground(HashEncoder(), tmp_path / "canvas.png", like=tmp_path / "crop.png")
    assert rows == [{"rank": i, **r.to_dict()} for i, r in enumerate(regions, 1)]
    assert rows[0]["box"] == [48, 32, 96, 64] and rows[0]["score"] == pytest.approx(1.0)
    assert Image.open(tmp_path / "out.png").size == (96, 64)
    table = run(*args, "--box", "0,0,48,32", "--box", "48,32,96,64").stdout.splitlines()
    assert [line.split()[2] for line in table] == ["48,32,96,64", "0,0,48,32"]


def test_classify_images_and_index_items_match_the_library(indexed):
    index, photos = indexed
    files = [photos / "img0.jpg", photos / "img3.png"]
    rows = ndjson(run("classify", *files, "--labels", "a", "b c", "--model", "test-hash", "--json"))
    expected = classify_images(HashEncoder(), files, ["a", "b c"])
    assert rows == [json.loads(json.dumps(c.to_dict())) for c in expected]
    rows = ndjson(
        run("classify", "--labels", "a", "b", "--index", index, "-w", "kind=image", "--json")
    )
    with Index.open(index) as idx:
        expected = classify_items(idx, ["a", "b"], filters=["kind=image"])
    assert rows == [json.loads(json.dumps(c.to_dict())) for c in expected] and len(rows) == 7


def test_similar_and_dupes_match_the_library(indexed):
    index, photos = indexed
    rows = ndjson(run("similar", "img3.png", "--index", index, "-k", "3", "--json"))
    with Index.open(index) as idx:
        hits = similar(idx, "img3.png", k=3)
        groups = find_duplicates(idx, threshold=0.99)
    assert rows == [
        json.loads(json.dumps({"rank": i, **h.to_dict()})) for i, h in enumerate(hits, 1)
    ]
    assert rows[0]["path"] == "sub/img3-copy.png"
    rows = ndjson(run("dupes", "--index", index, "--threshold", "0.99", "--json"))
    assert rows == [json.loads(json.dumps({"group": 1, "items": [h.to_dict() for h in groups[0]]}))]
    paths = run("dupes", "--index", index, "--paths").stdout.splitlines()
    assert paths == [str((photos / "sub" / "img3-copy.png").resolve())]
    table = run("dupes", "--index", index).stdout.splitlines()
    assert table[0] == "group 1 (2 items)" and table[1].split()[0] == "1.000"


def test_every_query_command_has_help():
    for command in ["query", "rank", "ground", "classify", "similar", "dupes"]:
        result = run(command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout
        assert command in run("--help").stdout
