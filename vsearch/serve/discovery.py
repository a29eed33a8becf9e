"""The discovery file: how the CLI finds a server that serves an index.

``vsearch serve`` writes ``serve.json`` (host, port, pid, url, token) into every index folder it
serves, mode 0600 because it may hold the token, and removes it when it stops. A reader ignores a
file whose process is gone; whether the port answers is the caller's check (a request with a
short timeout). Standard library only: the CLI imports this on every query.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

DISCOVERY_NAME = "serve.json"
_ANY_ADDRESS = {"", "0.0.0.0", "::"}


@dataclass(frozen=True)
class ServerInfo:
    """Where a running server listens, as its discovery file says."""

    host: str
    port: int
    pid: int
    token: str | None = None

    @property
    def url(self) -> str:
        """The base URL a local client connects to (a wildcard host means this machine)."""
        host = "127.0.0.1" if self.host in _ANY_ADDRESS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def write(folder: Path, info: ServerInfo) -> Path:
    """Write ``folder/serve.json`` atomically, readable by its owner only.

    Args:
        folder: the index folder.
        info: the server's address, process id and token.

    Returns:
        The path written.
    """
    target = folder / DISCOVERY_NAME
    data = {**asdict(info), "url": info.url}
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".serve-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:  # mkstemp creates the file with mode 0600
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return target


def read(folder: Path) -> ServerInfo | None:
    """The server named in ``folder/serve.json`` if its process is alive, else None.

    A missing, unreadable or malformed file, or one whose process has ended, reads as None.
    """
    try:
        data = json.loads((folder / DISCOVERY_NAME).read_text())
        info = ServerInfo(
            host=str(data["host"]),
            port=int(data["port"]),
            pid=int(data["pid"]),
            token=data.get("token"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if pid_alive(info.pid) else None


def remove(folder: Path, pid: int) -> None:
    """Remove ``folder/serve.json`` if it still names process ``pid`` (not a newer server)."""
    path = folder / DISCOVERY_NAME
    try:
        if int(json.loads(path.read_text())["pid"]) == pid:
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        return


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (it may belong to another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
