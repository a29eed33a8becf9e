"""The CLI's side of a running server: send a query (text, or ``--image`` uploaded) to it.

Standard library only (``urllib.request``), so ``vsearch query`` stays light when it hands the
query to a server. Any failure (no server, a dead one, a port that does not answer, an error
reply) returns None and the caller searches locally.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vsearch.hit import Hit
from vsearch.serve import discovery

TIMEOUT_S = 10.0  # a server answers a query in milliseconds; this only bounds a stuck one
_HIT_FIELDS = ("id", "path", "abspath", "score", "kind")
_RECORD_ONLY = ("rank", "instruction", "parts")


def hit_from_record(record: dict[str, Any]) -> Hit:
    """The :class:`~vsearch.hit.Hit` of one ``Hit.to_dict()``-shaped record from a server."""
    rest = {k: v for k, v in record.items() if k not in _HIT_FIELDS + _RECORD_ONLY}
    return Hit(
        int(record["id"]),
        str(record["path"]),
        Path(record["abspath"]),
        float(record["score"]),
        str(record["kind"]),
        rest,
    )


def remote_query(
    index_folder: Path,
    terms: Sequence[str],
    *,
    k: int,
    image: Path | None = None,
    instruction: str | None = None,
    where: Sequence[str] = (),
    min_score: float | None = None,
) -> list[dict[str, Any]] | None:
    """The records of a query answered by the server serving ``index_folder``, if any.

    Args:
        index_folder: the index folder (its ``serve.json`` names the server).
        terms: query tokens, as the shell passed them.
        k, instruction, where, min_score: as ``vsearch query`` takes them.
        image: ``--image``: uploaded, and named in the records as the local run names it.

    Returns:
        The ``--json`` records, or None when no live server answered.
    """
    folder = Path(index_folder).expanduser().resolve()
    server = discovery.read(folder)
    if server is None:
        return None
    fields: list[tuple[str, str]] = [("k", str(k))]
    fields += [("term", t) for t in terms] + [("where", w) for w in where]
    if instruction is not None:
        fields.append(("instruction", instruction))
    if min_score is not None:
        fields.append(("min_score", repr(min_score)))
    url = f"{server.url}/api/search?{urllib.parse.urlencode([('index', str(folder))])}"
    if image is None:
        request = urllib.request.Request(f"{url}&{urllib.parse.urlencode(fields)}")
    else:
        try:
            data = Path(image).expanduser().read_bytes()
        except OSError:
            return None  # the local run reports it
        body, boundary = _multipart(fields, Path(image).name, data)
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    hits = _send(request, server.token)
    if hits is not None and image is not None:
        _name_the_image(hits, Path(image).name, image)
    return hits


def _send(request: urllib.request.Request, token: str | None) -> list[dict[str, Any]] | None:
    request.add_header("Accept", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local: no proxy
    try:
        with opener.open(request, timeout=TIMEOUT_S) as response:
            body = json.load(response)
    except (OSError, ValueError):  # URLError, HTTPError, timeouts and bad JSON alike
        return None
    hits = body.get("hits") if isinstance(body, dict) else None
    return hits if isinstance(hits, list) else None


def _multipart(fields: list[tuple[str, str]], filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body: the text fields, then the image as the ``image`` file."""
    boundary = f"vsearch-{uuid.uuid4().hex}"
    safe_name = _header_safe(filename)
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    out += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
        f'filename="{safe_name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    out += data + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out), boundary


def _name_the_image(records: list[dict[str, Any]], filename: str, image: Path) -> None:
    """Name the uploaded image in each record's parts as the local run does (its path)."""
    local = str(Path(os.path.expanduser(str(image))))  # what the query parser makes of it
    for record in records:
        for part in record.get("parts") or []:
            if part.get("image") == f"upload:{_header_safe(filename)}":
                part["image"] = local


def _header_safe(filename: str) -> str:
    return filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
