"""Files that must never stop, hang or exhaust an ingest: names that are not UTF-8, FIFOs,
sockets, devices behind symlinks, texts far over the cap; and the small query-side edges."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vsearch.cli import app
from vsearch.index import Index
from vsearch.ingest.decode import MAX_TEXT_CHARS

from ..conftest import HashEncoder, write_image

BAD_NAME = os.fsdecode(b"bad\xffname.jpg")  # Latin-1 byte 0xff: not UTF-8
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def hostile(tmp_path):
    root = tmp_path / "photos"
    write_image(root / "good1.jpg", seed=1)
    write_image(root / "good2.png", seed=2)
    write_image(root / BAD_NAME, seed=3, fmt="JPEG")
    write_image(root / "two\nlines.png", seed=4)
    return root


def test_a_name_that_is_not_utf8_is_indexed_losslessly(tmp_path, hostile, store_url):
    folder = tmp_path / "idx"
    with Index.create(folder, encoder=HashEncoder(), store_url=store_url) as idx:
        report = idx.ingest(hostile)
        assert (report.added, report.failed) == (4, [])
        hit = idx.search(image=hostile / BAD_NAME, k=1)[0]
        assert hit.path == BAD_NAME and hit.abspath.exists()
        assert os.fsencode(hit.path) == b"bad\xffname.jpg"
    with Index.open(folder, encoder=HashEncoder()) as idx:
        again = idx.ingest()
        assert (again.unchanged, again.added, again.removed) == (4, 0, 0)
        assert idx.remove([BAD_NAME]) == 1


def test_the_cli_prints_such_names_escaped_on_one_line(tmp_path, hostile):
    index = tmp_path / "idx"
    done = run("ingest", hostile, "--index", index, "--model", "test-hash")
    assert done.exit_code == 0 and done.stdout.startswith("added 4,")
    listed = run("query", "--image", hostile / "good1.jpg", "--index", index, "--paths")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert len(lines) == 4
    assert f"{hostile}/bad\\xffname.jpg" in lines and f"{hostile}/two\\nlines.png" in lines
    as_json = run("query", "--image", hostile / "good1.jpg", "--index", index, "--json")
    paths = {json.loads(line)["path"] for line in as_json.stdout.splitlines()}
    assert BAD_NAME in paths and "two\nlines.png" in paths


SPECIAL_FILES_INGEST = textwrap.dedent(
    """
    import resource, sys
    sys.path.insert(0, {tests!r})
    resource.setrlimit(resource.RLIMIT_AS, (4 * 1024**3, 4 * 1024**3))
    from conftest import HashEncoder
    from vsearch.index import Index

    with Index.create({index!r}, encoder=HashEncoder()) as idx:
        report = idx.ingest({root!r})
        print(report.added, sorted(report.failed))
    """
)


def test_fifos_sockets_and_devices_are_recorded_not_read(tmp_path):
    root = tmp_path / "photos"
    write_image(root / "good.jpg", seed=1)
    (root / "notes.txt").write_text("kept")
    os.mkfifo(root / "fifo.jpg")
    (root / "zero.jpg").symlink_to("/dev/zero")
    (root / "null.txt").symlink_to("/dev/null")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(root / "sock.png"))
    script = SPECIAL_FILES_INGEST.format(
        tests=str(Path(__file__).parents[1]), index=str(tmp_path / "idx"), root=str(root)
    )
    try:  # a hang or unbounded memory would show as a timeout or a MemoryError here
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
        )
    finally:
        server.close()
    assert done.returncode == 0, done.stderr[-2000:]
    reason = "not a regular file (a FIFO, socket or device)"
    expected = [(name, reason) for name in ("fifo.jpg", "null.txt", "sock.png", "zero.jpg")]
    assert done.stdout.strip() == f"2 {expected}"


def test_a_huge_text_is_read_only_up_to_the_cap(tmp_path):
    root = tmp_path / "notes"
    root.mkdir()
    (root / "huge.txt").write_text("é" * (3 * MAX_TEXT_CHARS))  # 1.2 MB; the cap cuts an é
    with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
        report = idx.ingest(root)
        assert report.failed == []
        rows = idx.store.all_items()  # a long text is indexed chunk by chunk
        assert report.added == len(rows) > 1 and {c for r in rows for c in r.text} == {"é"}
        last = max(rows, key=lambda r: int(r.path.rsplit("=", 1)[1]))
        assert int(last.path.rsplit("=", 1)[1]) + len(last.text) == MAX_TEXT_CHARS


@pytest.fixture
def indexed(tmp_path):
    root = tmp_path / "photos"
    write_image(root / "d0" / "x.jpg", seed=1)
    write_image(root / "d0" / "y.jpg", seed=2)
    index = tmp_path / "idx"
    assert run("ingest", root, "--index", index, "--model", "test-hash").exit_code == 0
    return index, root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "x", "--min-score", "5"], "min_score is a cosine similarity in [-1, 1], got 5"),
        (["query", "x", "--min-score", "inf"], "got inf"),
        (["query", "x", "--min-score", "nan"], "got nan"),
        (["query", "--image", "http://example.com/a.jpg"], "is a web address"),
        (["query", "x", "--where", "date=9999"], "past the last date"),
        (["query", "x", "--where", "date<=9999-12-31"], "past the last date"),
    ],
)
def test_bad_query_values_are_one_line_errors(indexed, args, message):
    index, _ = indexed
    result = run(*args, "--index", index)
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_similar_normalises_the_path(indexed):
    index, _ = indexed
    result = run("similar", "d0/../d0/x.jpg", "--index", index, "--json")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == ["d0/y.jpg"]
