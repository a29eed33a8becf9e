"""The CLI with a real server (uvicorn in a thread on 127.0.0.1, a free port): discovery,
the same output as the local path, fall-back when the server is stale or gone."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from vsearch.cli import app
from vsearch.index import Index
from vsearch.serve import discovery
from vsearch.serve.runner import ServerHandle
from vsearch.serve.state import ServerState

runner = CliRunner()


@pytest.fixture
def server(index: Index) -> Iterator[ServerHandle]:
    handle = ServerHandle(ServerState([index]), "127.0.0.1", 0).start()
    yield handle
    handle.stop()


def _query(index: Index, *args: str):
    result = runner.invoke(app, ["query", *args, "--index", str(index.folder)])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_discovery_file_names_the_server_and_only_its_owner_reads_it(server, index):
    path = index.folder / discovery.DISCOVERY_NAME
    data = json.loads(path.read_text())
    assert (data["host"], data["port"], data["pid"]) == ("127.0.0.1", server.port, os.getpid())
    assert data["url"] == server.url
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    server.stop()
    assert not path.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["shopping list", "-k", "4", "--json"],
        ["2:apples", "+", "coffee", "-k", "3", "--where", "kind=image", "--json"],
        ["shopping list", "-k", "4"],
        ["shopping list", "-k", "4", "--paths"],
    ],
)
def test_query_through_the_server_prints_what_the_local_path_prints(server, index, args):
    before = index.encoder.calls
    remote = _query(index, *args)
    after = index.encoder.calls
    assert after > before, "the server's encoder did not embed the query"
    local = _query(index, *args, "--no-server")
    assert index.encoder.calls == after, "--no-server still asked the server"
    assert remote == local and remote


def test_a_stale_discovery_file_is_ignored(index):
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(ended.stdout)
    discovery.write(index.folder, discovery.ServerInfo("127.0.0.1", 9, dead_pid))
    assert discovery.read(index.folder) is None
    assert json.loads(_query(index, "notes", "-k", "1", "--json"))["rank"] == 1


def test_a_live_pid_whose_port_does_not_answer_falls_back_to_local(index):
    with socket.socket() as sock:  # a port that was free a moment ago and is closed now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    discovery.write(index.folder, discovery.ServerInfo("127.0.0.1", port, os.getpid()))
    assert discovery.read(index.folder) is not None
    out = _query(index, "notes", "-k", "2", "--json")
    assert [json.loads(line)["rank"] for line in out.splitlines()] == [1, 2]


@pytest.mark.parametrize("text", [[], ["at", "night", "+", "0.5:snow"]])
def test_an_image_query_is_uploaded_and_prints_what_the_local_path_prints(
    server, index, photo_dir, text
):
    args = [*text, "--image", str(photo_dir / "img3.png"), "-k", "3", "--json"]
    before = index.encoder.calls
    remote = _query(index, *args)
    after = index.encoder.calls
    assert after > before, "the server's encoder did not embed the query"
    local = _query(index, *args, "--no-server")
    assert index.encoder.calls == after
    assert remote == local
    assert json.loads(remote.splitlines()[0])["parts"][0]["image"] == str(photo_dir / "img3.png")


def test_a_query_with_an_image_path_term_runs_locally(server, index, photo_dir):
    calls = index.encoder.calls
    out = _query(index, str(photo_dir / "img3.png"), "-k", "1", "--json")
    assert json.loads(out)["path"] == "img3.png"
    assert index.encoder.calls == calls  # the server refused the path; nothing embedded there


def test_serve_refuses_a_public_host_without_a_token(index):
    result = runner.invoke(app, ["serve", "--index", str(index.folder), "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "--token" in result.output and "other machines" in result.output


def test_a_token_server_is_used_with_the_token_from_the_discovery_file(index):
    handle = ServerHandle(ServerState([index], token="t0k"), "127.0.0.1", 0).start()
    try:
        calls = index.encoder.calls
        _query(index, "notes", "-k", "1")
        assert index.encoder.calls == calls + 1
    finally:
        handle.stop()


def test_the_listening_socket_is_tcp_so_asyncio_sets_nodelay(server):
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; without it, every
    # keep-alive request (browsers, apps) waited ~40 ms on Nagle + delayed ACK.
    assert server.sock.proto == socket.IPPROTO_TCP


def test_indexes_of_one_model_share_one_loaded_encoder(tmp_path, index, photo_dir):
    from vsearch.serve.runner import open_indexes

    from ..conftest import HashEncoder

    other = Index.create(tmp_path / "other", encoder=HashEncoder())
    other.ingest(photo_dir / "sub")
    other.close()
    first, second = open_indexes([index.folder, other.folder])
    assert first.encoder is second.encoder
    assert len(first) == 7 and len(second) == 2


SERVE = """
import sys
import tests.conftest  # registers the hash encoder the index was built with
from vsearch.cli import main
sys.argv = ["vsearch", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_the_serve_command_announces_itself_and_cleans_up_when_stopped(index, stop):
    from pathlib import Path

    from vsearch.serve.client import remote_query

    repo = Path(__file__).resolve().parents[2]
    folder = index.folder
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--index", str(folder), "--port", "0"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(600):  # a bound on start-up, not a timing assertion
            if discovery.read(folder) is not None or process.poll() is not None:
                break
            time.sleep(0.05)
        server = discovery.read(folder)
        assert server is not None and server.pid == process.pid, process.stderr.read()
        records = remote_query(folder, ["notes"], k=2)
        assert records is not None and [r["rank"] for r in records] == [1, 2]
        process.send_signal(stop)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"serving idx at {server.url}/" in out
    assert not (folder / discovery.DISCOVERY_NAME).exists()
