"""Fixtures of the server tests: a real index (HashEncoder) over real image files, the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vsearch.index import Index
from vsearch.serve.app import create_app
from vsearch.serve.state import ServerState

from ..conftest import HashEncoder


@pytest.fixture
def index(tmp_path: Path, photo_dir: Path) -> Iterator[Index]:
    """An index of ``photo_dir`` (6 images, 1 text), built with the hash encoder."""
    idx = Index.create(tmp_path / "idx", encoder=HashEncoder())
    idx.ingest(photo_dir)
    yield idx
    idx.close()


@pytest.fixture
def client(index: Index) -> Iterator[TestClient]:
    """The real ASGI app over ``index``; a crash answers 500 instead of raising in the test."""
    with TestClient(create_app(ServerState([index])), raise_server_exceptions=False) as c:
        yield c
