"""Issue 13: a hub id that is not cached is downloaded on first use, into the standard Hugging
Face cache, resumably; offline it stays a one-line ``hf download`` hint.

Each case runs vsearch in a fresh process against ``tests.hub_server`` (a real HTTP endpoint on
a free local port serving a tiny checkpoint in the hub's layout) through ``HF_ENDPOINT``, with
its own ``HF_HOME``: the hub library reads its offline flag when first imported, so the test
process itself (``HF_HUB_OFFLINE=1``) cannot go online.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hub_server import HubServer

REPO = "TIGER-Lab/Tiny-VLM2Vec"
REPO_ROOT = Path(__file__).resolve().parents[2]
EMBED = (
    "from vsearch.encoders import Item, load_encoder\n"
    f"print(load_encoder({REPO!r}).encode([Item(text='a red car')]).shape)\n"
)
#: Only the step that downloads (no torch import): prints the snapshot folder's name.
FETCH = (
    "from vsearch.encoders.vlm2vec.sources import resolve\n"
    f"print(resolve({REPO!r}).model_dir.parent.parent.name)\n"
)
FETCHED = f"models--{REPO.replace('/', '--')}"


def _env(tmp_path: Path, endpoint: str, *, offline: bool = False) -> dict[str, str]:
    offline_flags = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE")
    env = {k: v for k, v in os.environ.items() if k not in offline_flags}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1")
    env.update(VSEARCH_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO_ROOT))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def vsearch(tmp_path: Path, endpoint: str, *args: str, offline: bool = False, code: str = ""):
    env = _env(tmp_path, endpoint, offline=offline)
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "vsearch.cli", *args]
    return subprocess.run(
        command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def hub(tiny_qwen2_vl):
    with HubServer(tiny_qwen2_vl, REPO) as server:
        yield server


def _snapshot_file(tmp_path: Path, name: str) -> Path:
    repo = tmp_path / "hf" / "hub" / f"models--{REPO.replace('/', '--')}"
    (snapshot,) = (repo / "snapshots").iterdir()
    return snapshot / name


def test_first_use_downloads_with_a_progress_bar_then_works_offline(tmp_path, hub):
    done = vsearch(tmp_path, hub.url, code=EMBED)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 64)"
    assert "Fetching 6 files" in done.stderr  # the progress bar, on stderr
    weights = _snapshot_file(tmp_path, "model.safetensors")
    assert weights.read_bytes() == (hub.folder / "model.safetensors").read_bytes()

    listed = vsearch(tmp_path, hub.url, "models", "--json")
    entries = {e["name"]: e for e in map(json.loads, listed.stdout.splitlines())}
    assert entries[REPO]["cached"] and entries[REPO]["size_bytes"] > 0
    assert entries["TIGER-Lab/VLM2Vec-Qwen2VL-2B"]["cached"] is False

    asked = len(hub.requests)
    again = vsearch(tmp_path, hub.url, code=FETCH, offline=True)
    assert again.returncode == 0 and again.stdout.strip() == FETCHED
    online = vsearch(tmp_path, hub.url, code=FETCH)
    assert online.returncode == 0
    assert len(hub.requests) == asked  # a complete cached copy is used as it is


def test_a_dropped_connection_is_retried_within_the_same_run(tmp_path, hub):
    """The hub retries the file (with a ``Range`` request once a 10 MB chunk has arrived;
    this tiny file arrives in one chunk, so its retry starts over)."""
    hub.cut_next = "model.safetensors"
    done = vsearch(tmp_path, hub.url, code=FETCH)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Trying to resume download" in done.stderr
    data = (hub.folder / "model.safetensors").read_bytes()
    assert _snapshot_file(tmp_path, "model.safetensors").read_bytes() == data
    gets = [r for r in hub.requests if r.startswith("GET") and "model.safetensors" in r]
    assert len(gets) == 2


def test_a_killed_download_is_completed_by_the_next_use(tmp_path, hub):
    """The files a killed run finished are kept; the one it was writing is fetched again
    (huggingface_hub 2.x restarts a file another process left half-written)."""
    hub.cut_next, hub.stall = "model.safetensors", True
    proc = subprocess.Popen(
        [sys.executable, "-c", FETCH],
        env=_env(tmp_path, hub.url),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    others = [name for name in hub.files if name != "model.safetensors"]
    try:
        assert hub.half_sent.wait(timeout=600)
        _wait_for(lambda: all(_cached(tmp_path, name) for name in others))
    finally:
        proc.kill()
        proc.wait(timeout=60)
        hub.release.set()
    hub.requests.clear()

    done = vsearch(tmp_path, hub.url, code=EMBED)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 64)"  # the completed snapshot loads and embeds
    again = [r for r in hub.requests if r.startswith("GET") and "/resolve/" in r]
    assert [r.rsplit("/", 1)[1] for r in again] == ["model.safetensors"]


def _cached(tmp_path: Path, name: str) -> bool:
    snapshots = tmp_path / "hf" / "hub" / FETCHED / "snapshots"
    return snapshots.is_dir() and any((s / name).exists() for s in snapshots.iterdir())


def _wait_for(condition, seconds: float = 300) -> None:
    """Poll (not a timed assertion: the deadline only bounds a hung run)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the download"
        time.sleep(0.05)


RESOLVE = (
    "from vsearch.encoders.vlm2vec.sources import resolve\n"
    "from vsearch.errors import ModelNotFound\n"
    "try:\n    resolve('TIGER-Lab/Nope')\n"
    "except ModelNotFound as exc:\n    print(exc)\n"
)


def test_offline_keeps_the_one_line_download_hint(tmp_path, hub, monkeypatch):
    """In this (offline) test process, through the CLI, with the hub endpoint available."""
    from typer.testing import CliRunner

    from vsearch.cli import app

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    data = tmp_path / "data"
    data.mkdir()
    row = {"qry_text": "a red car\n", "qry_img_path": "", "tgt_text": ["red"], "tgt_img_path": [""]}
    (data / "cars.jsonl").write_text(json.dumps(row) + "\n")
    result = CliRunner().invoke(app, ["eval", str(data), "--model", REPO])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"hf download {REPO}" in lines[0], result.stderr
    assert hub.requests == []


@pytest.mark.parametrize("where", ["missing repo", "no server"])
def test_a_failed_download_is_one_line_with_the_reason_and_the_hint(tmp_path, hub, where):
    endpoint = hub.url if where == "missing repo" else "http://127.0.0.1:9"
    done = vsearch(tmp_path, endpoint, code=RESOLVE)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and "could not be downloaded" in lines[0], done.stdout + done.stderr
    assert "hf download TIGER-Lab/Nope" in lines[0]


def test_models_lists_built_ins_released_checkpoints_and_the_cache(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from vsearch.cli import app

    repo = tmp_path / "hf" / "hub" / "models--someone--Other-Model"
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / "abc").write_text("{}" * 600)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").symlink_to(repo / "blobs" / "abc")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))

    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["name"] for e in entries[:2]] == ["label-bridge", "mini"]
    released = [e for e in entries if e["kind"] == "vlm2vec"]
    assert "TIGER-Lab/VLM2Vec-Qwen2VL-2B" in {e["name"] for e in released}
    assert not any(e["cached"] for e in released)
    assert entries[-1] == {
        "name": "someone/Other-Model",
        "kind": "cached",
        "cached": True,
        "size_bytes": 1200,
        "description": "",
    }
    table = CliRunner().invoke(app, ["models"]).stdout.splitlines()
    assert table[-1].split() == ["someone/Other-Model", "cached", "1.2", "KB"]
