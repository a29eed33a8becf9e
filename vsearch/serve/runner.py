"""Running the server: open the indexes once, bind, announce, serve until stopped.

``ServerHandle.run`` blocks (the CLI); ``ServerHandle.start`` runs it in a background thread (tests,
benchmarks, notebooks). Both write the discovery file into every served index folder once the
socket is bound (so port 0 announces the real port) and remove it when the server stops.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from vsearch.errors import VsearchError
from vsearch.index import Index
from vsearch.query import run_query
from vsearch.serve import discovery
from vsearch.serve.app import create_app
from vsearch.serve.state import ServerState

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """A non-loopback host needs a token.

    Raises:
        VsearchError: ``host`` is reachable from other machines and no token was given.
    """
    if not is_loopback(host) and not token:
        raise VsearchError(
            f"--host {host} makes the index reachable from other machines; "
            "pass --token SECRET too (every request must then carry it)"
        )


def open_indexes(
    paths: Sequence[Path], *, model: str | None = None, **encoder_options: Any
) -> list[Index]:
    """Open each index with its encoder loaded now (one per model, shared) and warmed up.

    Args:
        paths: index folders.
        model: the encoder spec (None: the one each index was built with).
        **encoder_options: ``device``, ``dtype`` as ``load_encoder`` takes them.

    Raises:
        IndexNotFound, EncoderMismatch, SchemaVersionError: as ``Index.open``.
    """
    from vsearch.encoders import Encoder, load_encoder

    encoders: dict[str, Encoder] = {}
    opened = []
    for path in paths:
        with Index.open(path) as probe:  # reads the index's model spec; loads no model
            facts = probe.info()
        spec = model or facts["model"] or facts["encoder"]["model_id"]
        if spec not in encoders:
            encoders[spec] = load_encoder(spec, **encoder_options)
        index = Index.open(path, encoder=encoders[spec])
        opened.append(index)
        if len(index):
            run_query(index, "warm up", k=1)
    return opened


class ServerHandle:
    """One server on a bound socket; ``run()`` blocks, ``start()`` runs it in a thread."""

    def __init__(self, state: ServerState, host: str = DEFAULT_HOST, port: int = 0) -> None:
        check_exposure(host, state.token)
        self.state = state
        self.sock = _bind(host, port)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(state), log_level="warning", access_log=False, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL clients on this machine use."""
        return discovery.ServerInfo(self.host, self.port, os.getpid()).url

    def run(self) -> None:
        """Serve until stopped (Ctrl-C, SIGTERM or ``stop()``), announced in each index folder."""
        info = discovery.ServerInfo(self.host, self.port, os.getpid(), self.state.token)
        folders = [Path(s.index.folder) for s in self.state.served.values()]
        for folder in folders:
            discovery.write(folder, info)
        try:
            with _signals_end_quietly():
                self.server.run(sockets=[self.sock])
        finally:
            for folder in folders:
                discovery.remove(folder, info.pid)
            self.sock.close()

    def start(self, timeout: float = 30.0) -> ServerHandle:
        """Run in a daemon thread; returns once the server accepts requests."""
        self._thread = threading.Thread(target=self.run, name="vsearch-serve", daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            time.sleep(0.02)
        if not self.server.started:
            raise VsearchError(f"the server on {self.url} did not start")
        return self

    def stop(self) -> None:
        """Stop a server started with ``start()`` and wait for it to end."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)


@contextmanager
def _signals_end_quietly() -> Iterator[None]:
    """Let Ctrl-C and SIGTERM end ``run()`` normally, so the discovery files are removed.

    uvicorn handles both while it serves, then re-raises the signal it got into the handlers it
    found; with the defaults, SIGTERM would kill the process before any clean-up ran.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, _ignore)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A signal that arrives once the server has stopped: nothing is left to do."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio: NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise VsearchError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
