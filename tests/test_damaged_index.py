"""A damaged index folder, a read-only one and a full disk: what heals heals (the FAISS file is
derived), the rest is one line on stderr with exit code 1, and nothing is lost or overwritten."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vsearch.cli import app
from vsearch.index import FAISS_NAME, Index
from vsearch.ingest.chunks import chunks
from vsearch.parts import part_path
from vsearch.store.vectors import DELTA_NAME

from .conftest import HashEncoder, write_image
from .store.test_catalog import assert_consistent

runner = CliRunner()
FILES = {f"p{i}.png" for i in range(6)}


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def build(folder: Path, photos: Path) -> Path:
    for i, name in enumerate(sorted(FILES)):
        write_image(photos / name, seed=i, fmt="PNG")
    done = run("ingest", photos, "--index", folder, "--model", "test-hash")
    assert done.exit_code == 0, done.output
    return folder


@pytest.fixture
def index(tmp_path):
    return build(tmp_path / "idx", tmp_path / "photos")


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.split("\r")[-1].lstrip().startswith("error: ")  # after a progress bar
    for needle in needles:
        assert needle in result.stderr, result.stderr


def commands(index: Path, photos: Path) -> list[list[str]]:
    return [
        ["info", "--index", index],
        ["query", "--image", photos / "p3.png", "--index", index, "-k", "2", "--json"],
        ["similar", "p3.png", "--index", index, "--json"],
        ["ingest", "--index", index, "--json"],
    ]


def other_dimension_file(tmp_path: Path) -> bytes:
    photos = tmp_path / "other-photos"
    write_image(photos / "x.png", seed=99, fmt="PNG")
    with Index.create(tmp_path / "other", encoder=HashEncoder(dim=8)) as idx:
        idx.ingest(photos)
    return (tmp_path / "other" / FAISS_NAME).read_bytes()


FAISS_DAMAGE = {
    "empty": lambda data, _: b"",
    "half": lambda data, _: data[: len(data) // 2],
    "random header": lambda data, _: os.urandom(64) + data[64:],
    "random middle": lambda data, _: data[:200] + os.urandom(256) + data[456:],
    "another dimension": lambda data, tmp: other_dimension_file(tmp),
}


@pytest.mark.parametrize(
    ("name", "damage"),
    [(FAISS_NAME, damage) for damage in FAISS_DAMAGE]
    + [(DELTA_NAME, damage) for damage in ("empty", "half", "random middle")],
)
def test_a_damaged_faiss_file_is_rebuilt_with_one_line(index, tmp_path, name, damage):
    photos = tmp_path / "photos"
    path = index / name
    path.write_bytes(FAISS_DAMAGE[damage](path.read_bytes(), tmp_path))
    for args in commands(index, photos):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
        if args[0] == "query":
            top = json.loads(result.stdout.splitlines()[0])
            assert top["path"] == "p3.png" and top["score"] == pytest.approx(1.0)
        if args[0] != "ingest":  # the ingest saved a good file before it ran
            rebuilt = [line for line in result.stderr.splitlines() if "was damaged" in line]
            assert len(rebuilt) == 1 and "rebuilt from the store in" in rebuilt[0]
    assert_consistent(index, FILES)


def _overwrite_pages(path: Path, first: int) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    rng = np.random.default_rng(0)
    for start in range(first * page, len(data), page):
        data[start : start + page] = rng.bytes(min(page, len(data) - start))
    path.write_bytes(bytes(data))


STORE_DAMAGE = {
    "deleted": (lambda p: p.unlink(), "is missing"),
    "empty": (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "half": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "is damaged"),
    "random header": (lambda p: p.write_bytes(os.urandom(100) + p.read_bytes()[100:]), "damaged"),
    "random pages": (lambda p: _overwrite_pages(p, first=1), "is damaged"),
}


@pytest.mark.parametrize("damage", list(STORE_DAMAGE))
def test_a_damaged_store_is_one_line_and_never_replaced(index, tmp_path, damage):
    db = index / "metadata.sqlite"
    for leftover in ("-wal", "-shm"):
        Path(f"{db}{leftover}").unlink(missing_ok=True)
    spoil, message = STORE_DAMAGE[damage]
    spoil(db)
    before = db.read_bytes() if db.exists() else None
    for args in commands(index, tmp_path / "photos"):
        one_line_error(run(*args), "metadata.sqlite", message)
    assert (db.read_bytes() if db.exists() else None) == before  # no empty store was made


def test_a_lock_path_that_is_a_folder_is_one_line(index, tmp_path):
    (index / "ingest.lock").unlink(missing_ok=True)
    (index / "ingest.lock").mkdir()
    one_line_error(run("ingest", "--index", index), "ingest.lock is a folder")
    assert run("query", "x", "--index", index, "-k", "1").exit_code == 0


@pytest.mark.parametrize("manifest", [None, b"not json", b'{"format": "other"}'])
def test_a_missing_or_garbage_manifest_is_one_line(index, tmp_path, manifest):
    path = index / "vsearch.json"
    path.unlink() if manifest is None else path.write_bytes(manifest)
    for args in commands(index, tmp_path / "photos")[:3]:
        one_line_error(run(*args), "vsearch.json" if manifest else "no vsearch index")


# ---- read-only and full file systems (tmpfs mounts; skipped where they cannot be made) -------


@pytest.fixture
def mount(tmp_path):
    """Mount a small tmpfs; yields ``(folder, remount)``; unmounted at the end."""
    point = Path("/tmp") / f"vsearch-mnt-{uuid.uuid4().hex[:8]}"
    point.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip() or 'mount failed'}")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(point)], check=True)

    yield point, remount
    subprocess.run(["umount", "-l", str(point)], check=False)
    point.rmdir()


@pytest.mark.parametrize("stale", [False, True])
def test_a_read_only_index_answers_queries_and_refuses_ingest(mount, tmp_path, stale):
    point, remount = mount
    photos = tmp_path / "photos"
    index = build(point / "idx", photos)
    if stale:
        (index / "vectors.json").unlink()  # as if the last writer died before saving
    remount("ro")
    for args in commands(index, photos)[:3]:
        result = run(*args)
        assert result.exit_code == 0, result.output
    top = json.loads(run(*commands(index, photos)[1]).stdout.splitlines()[0])
    assert top["path"] == "p3.png"
    one_line_error(run("ingest", "--index", index), "read-only")
    remount("rw")
    assert_consistent(index, FILES)


def test_a_full_disk_loses_nothing_and_the_next_ingest_resumes(mount, tmp_path):
    point, _ = mount
    photos = tmp_path / "photos"
    index = build(point / "idx", photos)
    notes = {}  # a text each: big rows, tiny encoding cost; each text is a few chunks
    words = [f"word{w}" for w in range(100)]
    for i in range(300):
        pick = random.Random(i).choices(words, k=400)
        notes[f"note{i:03d}.txt"] = f"note {i} " + " ".join(pick)
        (photos / f"note{i:03d}.txt").write_text(notes[f"note{i:03d}.txt"])
    items = {part_path(name, "chars", o) for name, t in notes.items() for o, _ in chunks(t)}
    filler = point / "filler"
    with open(filler, "wb") as f:  # leave about 300 KB free
        free = shutil.disk_usage(point).free
        f.write(b"\0" * max(0, free - 300_000))
    result = run("ingest", "--index", index)  # HashEncoder: 8 items a batch
    one_line_error(result, "is full", "nothing committed was lost")
    faiss_before = (index / FAISS_NAME).read_bytes()
    filler.unlink()
    with Index.open(index, encoder=HashEncoder()) as idx:
        assert (index / FAISS_NAME).read_bytes() == faiss_before  # still whole
        committed = len(idx)
        report = idx.ingest()
        assert report.added == len(FILES | items) - committed and report.unchanged == committed
    assert_consistent(index, FILES | items)
