"""An on-disk embedding cache for evaluation: one SQLite file per encoder identity.

A key is the hash of (instruction, text, image bytes); the value is the float32 vector. The
same picture under two paths, or the same dataset rebuilt, is therefore embedded once.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vsearch import config
from vsearch.encoders.base import EncoderIdentity
from vsearch.errors import EncoderMismatch

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB NOT NULL);
"""


def default_cache_dir() -> Path:
    """``$VSEARCH_HOME/eval-cache``."""
    return config.home() / "eval-cache"


def item_key(text: str | None, image_digest: str | None, instruction: str | None) -> str:
    """The cache key of one input: a hex sha256 over its parts (None and "" differ)."""
    payload = json.dumps([instruction, text, image_digest], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def file_digest(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class EmbeddingCache:
    """Vectors of one encoder identity, keyed by ``item_key``.

    It does not evict, and it does not check that a vector came from the identity: callers
    write only what that encoder produced.
    """

    def __init__(self, identity: EncoderIdentity, directory: Path | None = None) -> None:
        self.identity = identity
        directory = Path(directory) if directory is not None else default_cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        ident = json.dumps(identity.to_dict(), sort_keys=True)
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", identity.model_id).strip("-")[:60] or "model"
        self.path = directory / f"{slug}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.sqlite"
        self._db = sqlite3.connect(self.path)
        self._db.executescript(SCHEMA)
        stored = self._db.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
        if stored is None:
            with self._db:
                self._db.execute("INSERT INTO meta VALUES ('identity', ?)", (ident,))
        elif stored[0] != ident:
            self._db.close()
            raise EncoderMismatch(
                f"embedding cache {self.path} belongs to {stored[0]}, not {ident}; "
                "delete the file or pass another cache directory"
            )

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``: key -> ``(dim,)`` float32."""
        found: dict[str, np.ndarray] = {}
        keys = list(keys)
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(
                f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk
            ):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (``(len(keys), dim)`` float32) in one transaction."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), self.identity.dim):
            raise ValueError(
                f"expected vectors of shape ({len(keys)}, {self.identity.dim}), got {vectors.shape}"
            )
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO emb VALUES (?, ?)",
                [(k, v.tobytes()) for k, v in zip(keys, vectors, strict=True)],
            )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
