"""The CLI's side of a running server: send a query to it, get the records back.

Standard library only (``urllib.request``), so ``vsearch query`` stays light when it hands the
query to a server. Any failure (no server, a dead one, a port that does not answer, an error
reply) returns None and the caller searches locally.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsearch.serve import discovery

TIMEOUT_S = 10.0  # a server answers a query in milliseconds; this only bounds a stuck one
_HIT_FIELDS = ("id", "path", "abspath", "score", "kind")
_RECORD_ONLY = ("rank", "instruction", "parts")


@dataclass(frozen=True)
class RemoteHit:
    """A hit as a server returned it: the fields the CLI's table and ``--paths`` print."""

    id: int
    path: str
    abspath: Path
    score: float
    kind: str
    metadata: dict[str, Any]

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RemoteHit:
        """The hit of one ``Hit.to_dict()``-shaped record."""
        rest = {k: v for k, v in record.items() if k not in _HIT_FIELDS + _RECORD_ONLY}
        return cls(
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
    instruction: str | None = None,
    where: Sequence[str] = (),
    min_score: float | None = None,
) -> list[dict[str, Any]] | None:
    """The records of a text query answered by the server serving ``index_folder``, if any.

    Args:
        index_folder: the index folder (its ``serve.json`` names the server).
        terms: query tokens, as the shell passed them.
        k, instruction, where, min_score: as ``vsearch query`` takes them.

    Returns:
        The ``--json`` records, or None when no live server answered.
    """
    folder = Path(index_folder).expanduser().resolve()
    server = discovery.read(folder)
    if server is None:
        return None
    params: list[tuple[str, str]] = [("index", str(folder)), ("k", str(k))]
    params += [("term", t) for t in terms] + [("where", w) for w in where]
    if instruction is not None:
        params.append(("instruction", instruction))
    if min_score is not None:
        params.append(("min_score", repr(min_score)))
    url = f"{server.url}/api/search?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if server.token:
        request.add_header("Authorization", f"Bearer {server.token}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local: no proxy
    try:
        with opener.open(request, timeout=TIMEOUT_S) as response:
            body = json.load(response)
    except (OSError, ValueError):  # URLError, HTTPError, timeouts and bad JSON alike
        return None
    hits = body.get("hits") if isinstance(body, dict) else None
    return hits if isinstance(hits, list) else None
