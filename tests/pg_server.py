"""A throw-away PostgreSQL server for the tests: its own cluster in a temporary folder, on a free
local port, with password authentication over TCP, stopped at the end of the session.

``VSEARCH_TEST_PG_URL`` names an existing server instead (the URL of a role that may create
schemas, with its password). Where neither can be had, :func:`start` says why in one line, and
the PostgreSQL cases are skipped with that reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "vsearch-test-pw"
USER = "vsearch"


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path | None = None  # None: not ours to stop
    _runner: tuple[str, ...] = ()

    def url(self, *, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql://{self.user}{secret}@{self.host}:{self.port}/{self.database}"

    def stop(self) -> None:
        if self.data_dir is None:
            return
        pg_ctl = str(Path(_binary("pg_ctl")))
        subprocess.run(
            [*self._runner, pg_ctl, "-D", str(self.data_dir), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"{name} not found (install Debian's postgresql package)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(runner: tuple[str, ...], *args: str) -> None:
    done = subprocess.run([*runner, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-300:]}")


def start() -> PgServer | str:
    """A running server, or the one-line reason why none could be had."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed (pip install 'vsearch[postgres]')"
    given = os.environ.get("VSEARCH_TEST_PG_URL")
    if given:
        from sqlalchemy.engine import make_url

        url = make_url(given)
        return PgServer(url.host or "127.0.0.1", url.port or 5432, url.username or "",
                        url.password or "", url.database or "postgres")  # fmt: skip
    try:
        return _start_cluster()
    except (RuntimeError, OSError) as exc:
        return f"no PostgreSQL server could be started here: {exc}"


def _start_cluster() -> PgServer:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    base = Path(tempfile.mkdtemp(prefix="vsearch-pg-"))
    runner: tuple[str, ...] = ()
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
        if shutil.which("runuser") is None:
            raise RuntimeError("running as root without runuser to drop to the postgres user")
        shutil.chown(base, "postgres")
        runner = ("runuser", "-u", "postgres", "--")
    data, sockets, pwfile = base / "data", base / "sockets", base / "pw"
    sockets.mkdir()
    pwfile.write_text(PASSWORD + "\n")
    if runner:
        for path in (sockets, pwfile):
            shutil.chown(path, "postgres")
    _run(runner, initdb, "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "--no-sync",
         "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")  # fmt: skip
    port = _free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run(runner, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start")
    server = PgServer("127.0.0.1", port, USER, PASSWORD, "postgres", data, runner)
    return server
