"""A local Hugging Face hub endpoint for download tests: one folder served as one model repo.

It answers the requests ``huggingface_hub`` (2.x) makes for ``snapshot_download``, read from
its source (``hf_api.py``, ``file_download.py``):

- ``GET /api/models/{repo}/revision/{rev}``: the model info, whose ``sha`` is the commit;
- ``GET /api/models/{repo}/tree/{rev}?recursive=...``: the file list (one page, no ``Link``);
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: ``X-Repo-Commit``, ``ETag`` and
  ``Content-Length`` headers, the bytes on GET, honouring ``Range`` (resumed downloads).

Anything else is a 404 with the hub's ``X-Error-Code: RepoNotFound``. ``requests`` records the
requests (method, path and any ``Range``), so a test can see a resumed download and a second
load that stays off the network.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubServer:
    """Serves ``folder`` as model repo ``repo_id`` on a free local port, in a thread."""

    def __init__(self, folder: Path, repo_id: str) -> None:
        self.folder, self.repo_id = folder, repo_id
        self.requests: list[str] = []
        #: ``cut(name)`` makes the next GET of ``name`` send half its bytes and then, with
        #: ``stall`` set, wait for ``release`` (a client killed mid-download), else drop the
        #: connection (a network failure the client retries).
        self.cut_next: str | None = None
        self.stall = False
        self.half_sent = threading.Event()
        self.release = threading.Event()
        self.files = sorted(
            p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
        )
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep pytest's output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, *, body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                ranged = self.headers.get("Range")
                hub.requests.append(f"{self.command} {path}" + (f" {ranged}" if ranged else ""))
                api = f"/api/models/{hub.repo_id}/"
                resolve = f"/{hub.repo_id}/resolve/"
                if path.startswith(api + "revision/"):
                    siblings = [{"rfilename": f} for f in hub.files]
                    self._json({"id": hub.repo_id, "sha": COMMIT, "siblings": siblings}, body)
                elif path.startswith(api + "tree/"):
                    self._json([hub.entry(f) for f in hub.files], body)
                elif path.startswith(resolve) and path.count("/") >= 5:
                    name = path[len(resolve) :].split("/", 1)[1]
                    self._file(name, body)
                else:
                    self._not_found()

            def _json(self, value: object, body: bool) -> None:
                data = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _file(self, name: str, body: bool) -> None:
                if name not in hub.files:
                    self._not_found("EntryNotFound")
                    return
                data = (hub.folder / name).read_bytes()
                start = 0
                ranged = self.headers.get("Range", "")
                if ranged.startswith("bytes=") and body:
                    start = int(ranged[6:].split("-")[0] or 0)
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if body and hub.cut_next == name:
                    hub.cut_next = None
                    self._cut(data[start:])
                elif body:
                    self.wfile.write(data[start:])

            def _cut(self, data: bytes) -> None:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                hub.half_sent.set()
                if hub.stall:
                    hub.release.wait()
                self.close_connection = True
                with contextlib.suppress(OSError):  # the client may be gone already (killed)
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _not_found(self, code: str = "RepoNotFound") -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def entry(self, name: str) -> dict[str, object]:
        data = (self.folder / name).read_bytes()
        return {
            "type": "file",
            "path": name,
            "size": len(data),
            "oid": hashlib.sha1(data).hexdigest(),
        }
