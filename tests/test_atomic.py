"""The one file-writing helper: all or nothing, fsynced, with the umask's permissions."""

from __future__ import annotations

import os
import stat

import pytest

from vsearch.atomic import atomic_path, write_text
from vsearch.index import FAISS_NAME, Index

from .conftest import HashEncoder, write_image


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.json"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_index_files_share_one_permission_policy(tmp_path):
    old = os.umask(0o022)
    try:
        write_image(tmp_path / "photos" / "a.png", seed=1, fmt="PNG")
        with Index.create(tmp_path / "idx", encoder=HashEncoder()) as idx:
            idx.ingest(tmp_path / "photos")
    finally:
        os.umask(old)
    for name in ("vsearch.json", "metadata.sqlite", FAISS_NAME, "vectors.json"):
        assert stat.S_IMODE((tmp_path / "idx" / name).stat().st_mode) == 0o644, name
