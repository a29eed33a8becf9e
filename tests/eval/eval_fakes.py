"""Test doubles for the evaluation tests: a deterministic fake encoder and a JSONL writer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vsearch.encoders.base import Encoder, EncoderIdentity, Item, l2_normalize

COLOURS = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}


def word_vector(words: list[str], dim: int = 64) -> np.ndarray:
    """A bag of hashed words: texts sharing words get a positive cosine, others about 0."""
    vec = np.zeros(dim, dtype=np.float32)
    for w in words:
        h = hashlib.sha256(w.lower().encode()).digest()
        vec[h[0] % dim] += 1.0 if h[1] % 2 else -1.0
    return vec


class FakeEncoder(Encoder):
    """Text -> hashed bag of words; image -> the bag of its dominant colour's name.

    Exact, deterministic scores: an all-red image scores highest against the text "red". Like
    label-bridge it ignores instructions. It records what it embeds (``embedded``: items,
    ``seen``: ``(instruction, item)`` pairs), so tests can check what the cache saved.
    """

    batch_size = 4

    def __init__(self, model_id: str = "fake-hash", revision: str = "test") -> None:
        self.calls = 0
        self.embedded: list[Item] = []
        self.seen: list[tuple[str | None, Item]] = []
        self._identity = EncoderIdentity(model_id, revision, 64, "bag-of-words")

    @property
    def identity(self) -> EncoderIdentity:
        return self._identity

    def embed_batch(self, prepared: Sequence[Item], instruction: str | None) -> np.ndarray:
        self.calls += 1
        self.embedded.extend(prepared)
        self.seen.extend((instruction, item) for item in prepared)
        rows = []
        for item in prepared:
            words = (item.text or "").replace(":", " ").split()
            if item.image is not None:
                r, g, b = np.asarray(item.image, dtype=np.float32).reshape(-1, 3).mean(axis=0)
                words.append(["red", "green", "blue"][int(np.argmax([r, g, b]))])
            rows.append(word_vector(words) if words else np.ones(64, dtype=np.float32))
        return l2_normalize(np.stack(rows))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


class VerbatimFakeEncoder(FakeEncoder):
    """A FakeEncoder that reads MMEB strings whole, as VLM2Vec does; ``texts`` records them."""

    reads_verbatim = True

    def __init__(self) -> None:
        super().__init__("fake-verbatim")
        self.texts: list[tuple[str | None, bool]] = []

    def encode_verbatim(self, items: Sequence[Item]) -> np.ndarray:
        self.texts.extend((item.text, item.image is not None) for item in items)
        return self.encode(items, instruction=None)
