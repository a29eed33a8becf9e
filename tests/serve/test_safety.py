"""The server's safety promises, each asserted: no path from a request is opened, traversal and
absolute paths get 404, oversized uploads 413, decompression bombs and bad input 4xx JSON, a
crash 500 JSON without a traceback, and a token guards every request."""

from __future__ import annotations

import struct
import zlib

import pytest
from fastapi.testclient import TestClient

from vsearch.errors import VsearchError
from vsearch.serve.app import STATIC, create_app
from vsearch.serve.runner import check_exposure, is_loopback
from vsearch.serve.state import ServerState


def _assert_json_error(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == status and body["error"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    "path",
    [
        "/api/items/..%2F..%2F..%2Fetc%2Fpasswd/file",
        "/api/items/%2Fetc%2Fpasswd/file",
        "/api/items/%2e%2e/thumbnail",
        "/api/items/..%5c..%5cpyproject.toml/file",
        "/api/items/1%2F..%2F2/file",
        "/api/items/-1/file",
        "/api/items/99999/file",
        "/api/items/1e3/thumbnail",
        "/api/items/%EF%BC%91/file",  # a full-width digit one: not an id
        "/static/..%2F..%2F..%2Fpyproject.toml",
        "/static/%2Fetc%2Fpasswd",
        "/etc/passwd",
    ],
)
def test_traversal_and_absolute_paths_get_404(client, path):
    _assert_json_error(client.get(path), 404)


def test_a_query_naming_a_path_is_refused_not_opened(client, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not even an image")
    for q in (str(secret), "./secret.png", "2:/etc/hosts", "cat + ../x.jpg", "file:///etc/hosts"):
        body = _assert_json_error(client.get("/api/search", params={"q": q}), 400)
        assert "opens no path" in body["error"]


def test_an_oversized_upload_gets_413(index):
    app = create_app(ServerState([index]), max_upload_bytes=10_000)
    with TestClient(app) as client:
        declared = client.post(
            "/api/search", files={"image": ("big.png", b"\x89PNG" + b"0" * 20_000, "image/png")}
        )
        _assert_json_error(declared, 413)

        def chunks():  # no Content-Length: the middleware counts what arrives
            for _ in range(30):
                yield b"x" * 1000

        streamed = client.post(
            "/api/search",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=xyz"},
        )
        _assert_json_error(streamed, 413)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels in a few dozen bytes (a bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_by_the_ingest_caps(client):
    bomb = _png_header_only(50_000, 50_000)
    response = client.post("/api/search", files={"image": ("bomb.png", bomb, "image/png")})
    body = _assert_json_error(response, 400)
    assert "too large to decode safely" in body["error"]


def test_garbage_and_empty_uploads_are_400(client):
    not_image = client.post("/api/search", files={"image": ("x.png", b"hello", "image/png")})
    assert "not a recognised image" in _assert_json_error(not_image, 400)["error"]
    empty = client.post("/api/search", files={"image": ("x.png", b"", "image/png")})
    _assert_json_error(empty, 400)


def test_malformed_requests_get_4xx_json(client):
    bad_json = client.post(
        "/api/classify", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "JSON" in _assert_json_error(bad_json, 422)["error"]
    _assert_json_error(client.post("/api/classify", json={"labels": []}), 422)
    _assert_json_error(client.get("/api/search", params={"q": "x", "k": "many"}), 422)
    _assert_json_error(client.get("/api/search", params={"q": "x", "k": 0}), 422)
    _assert_json_error(client.get("/api/search"), 400)  # no query at all
    _assert_json_error(client.get("/api/search", params={"q": "x", "where": "colour~~red"}), 400)
    _assert_json_error(client.get("/api/search", params={"q": "x", "k": 900, "offset": 900}), 400)
    _assert_json_error(client.post("/api/search"), 422)  # no image part
    _assert_json_error(client.delete("/api/search"), 405)
    _assert_json_error(client.get("/api/nothing-here"), 404)


def test_a_crash_is_a_500_json_without_traceback(index):
    app = create_app(ServerState([index]))

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("a bug with a secret detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        body = _assert_json_error(client.get("/api/boom"), 500)
    assert "RuntimeError" in body["error"] and "secret" not in body["error"]


def test_a_token_guards_every_request(index):
    app = create_app(ServerState([index], token="s3cret"))
    with TestClient(app) as client:
        for path in ("/", "/docs", "/openapi.json", "/api/info", "/api/items/1/thumbnail"):
            _assert_json_error(client.get(path), 401)
        wrong = client.get("/api/info", headers={"Authorization": "Bearer nope"})
        _assert_json_error(wrong, 401)
        right = client.get("/api/info", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        page = client.get("/?token=s3cret")  # the page's link; it leaves a cookie behind
        assert page.status_code == 200 and "httponly" in page.headers["set-cookie"].lower()
        assert client.get("/api/items/1/thumbnail").status_code == 200  # by the cookie


def test_a_non_loopback_host_needs_a_token():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with pytest.raises(VsearchError, match="--token"):
        check_exposure("0.0.0.0", None)
    check_exposure("0.0.0.0", "secret")
    check_exposure("127.0.0.1", None)


def test_the_pages_work_offline(client):
    for name in ("index.html", "duplicates.html", "docs.html", "common.js", "search.js"):
        text = (STATIC / name).read_text()
        assert "http://" not in text and "https://" not in text, name
    assert client.get("/").status_code == 200
    assert client.get("/duplicates").status_code == 200
    assert client.get("/docs").status_code == 200
    assert "/api/search" in client.get("/openapi.json").json()["paths"]
    assert client.get("/static/search.js").status_code == 200
