"""``Hit``: one search result, the same for the Python API, the CLI's ``--json`` and the server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsearch.parts import file_of

if TYPE_CHECKING:
    from vsearch.store.models import ItemRow


@dataclass(frozen=True)
class Hit:
    """One search result. ``path`` is relative to the ingested root (a PDF page's ends in
    ``#page=N``); ``abspath`` is the file on disk."""

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

    @classmethod
    def from_row(cls, row: ItemRow, score: float, root: Path) -> Hit:
        """The hit of a stored item; ``root`` is the ingested folder its path is relative to."""
        data = {
            "size": row.size,
            "mtime": row.mtime_ns / 1e9,
            "width": row.width,
            "height": row.height,
            "taken_at": row.taken_at.isoformat() if row.taken_at else None,
            "camera_make": row.camera_make,
            "camera_model": row.camera_model,
            "gps_lat": row.gps_lat,
            "gps_lon": row.gps_lon,
            "text": row.text[:300] if row.text else None,
            "text_source": row.text_source,
            "content_hash": row.content_hash,
        }
        metadata = {k: v for k, v in data.items() if v is not None}
        return cls(row.id, row.path, root / file_of(row.path), score, row.kind, metadata)
