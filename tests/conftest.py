"""Shared fixtures: real tiny images and files, a deterministic encoder, the label-bridge model."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vsearch.encoders import Encoder, EncoderIdentity, Item, l2_normalize, register

DATA = Path(__file__).parent / "data"


class HashEncoder(Encoder):
    """Deterministic test encoder: a vector seeded by the item's pixels and text.

    Identical content gives identical vectors; different content gives near-orthogonal ones.
    ``calls`` counts the items it embedded, so tests can assert that nothing was re-encoded.
    """

    batch_size = 8
    max_image_side = 256

    def __init__(self, dim: int = 16, revision: str = "1", delay: float = 0.0) -> None:
        self._identity = EncoderIdentity("test-hash", revision, dim, "hash")
        self.delay = delay
        self.calls = 0

    @property
    def identity(self) -> EncoderIdentity:
        return self._identity

    def embed_batch(self, prepared: Sequence[Item], instruction: str | None) -> np.ndarray:
        import time

        time.sleep(self.delay)
        self.calls += len(prepared)
        return l2_normalize(np.stack([self.vector_of(item) for item in prepared]))

    def vector_of(self, item: Item) -> np.ndarray:
        digest = hashlib.sha256()
        if item.image is not None:
            digest.update(item.image.tobytes())
        if item.text is not None:
            digest.update(item.text.encode())
        seed = int.from_bytes(digest.digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)


register("test-hash", HashEncoder)


@pytest.fixture(autouse=True)
def _vsearch_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.getbasetemp() / "vsearch-home"  # shared: caches survive across tests
    monkeypatch.setenv("VSEARCH_HOME", str(home))
    # The user's data and config folders (platformdirs reads XDG_*): never the real ones.
    xdg = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_DATA_HOME", str(xdg / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg / "config"))
    for name in ("VSEARCH_INDEX", "VSEARCH_MODEL", "VSEARCH_DEVICE", "VSEARCH_BATCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("VSEARCH_EXCLUDE", "VSEARCH_STORE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def pg_server():
    """A throw-away PostgreSQL server for the session (see tests/pg_server.py), or a skip."""
    from .pg_server import start

    server = start()
    if isinstance(server, str):
        pytest.skip(f"PostgreSQL: {server}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Where an index keeps its metadata: None (its own SQLite file) or a PostgreSQL URL.

    The URL carries the password, as a user types it; ``PGPASSWORD`` is set too, because the
    manifest never keeps the password and a later open reads it from there.
    """
    if request.param == "sqlite":
        return None
    server = request.getfixturevalue("pg_server")
    monkeypatch.setenv("PGPASSWORD", server.password)
    return server.url()


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture(scope="session")
def label_bridge():
    from vsearch.encoders.label_bridge import LabelBridgeEncoder

    return LabelBridgeEncoder()


def write_image(
    path: Path, seed: int, size: tuple[int, int] = (48, 32), fmt: str | None = None
) -> Path:
    """A small, distinct, real image file (random colour blocks) in the format its suffix names."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    image = Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return path


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder of 6 distinct images in 3 formats, a text note and a sub-folder."""
    root = tmp_path / "photos"
    for i in range(3):
        write_image(root / f"img{i}.jpg", seed=i)
    write_image(root / "img3.png", seed=3)
    write_image(root / "sub" / "img4.webp", seed=4)
    write_image(root / "sub" / "img5.png", seed=5)
    (root / "notes.txt").write_text("Shopping list: apples, coffee, bread.")
    return root
