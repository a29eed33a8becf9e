"""``Hit``: one search result, the same for the Python API, the CLI's ``--json`` and the server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Hit:
    """One search result. ``path`` is relative to the ingested root; ``abspath`` is on disk."""

    id: int
    path: str
    abspath: Path
    score: float
    kind: str
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": self.path,
            "abspath": str(self.abspath),
            "score": round(self.score, 6),
            "kind": self.kind,
            **self.metadata,
        }
