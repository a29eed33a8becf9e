"""``ingest(ray=True)``: decoding and encoding on a local Ray cluster (2 CPUs) write the same
rows and vectors as a local ingest, and a rerun resumes as a local one does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vsearch.errors import VsearchError
from vsearch.index import Index
from vsearch.store.changes import FACT_COLUMNS

from ..conftest import HashEncoder, write_image

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'vsearch[ray]')")

#: What a row holds besides its id and when it was written.
COLUMNS = ("kind", "size", "mtime_ns", "content_hash", "status", "error", *FACT_COLUMNS)


@pytest.fixture(scope="module")
def local_ray():
    root = str(Path(__file__).parents[2])  # the workers import this tree's vsearch and tests
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        yield
    finally:
        ray.shutdown()


def stored(idx: Index) -> dict[str, tuple]:
    """Every row's columns and its vector's bytes, by path."""
    rows = idx.store.all_items()
    vectors = idx.catalog.stored_vectors(r.id for r in rows)
    return {
        r.path: (
            *(getattr(r, c) for c in COLUMNS),
            vectors[r.id].tobytes() if r.id in vectors else None,
        )
        for r in rows
    }


def test_a_ray_ingest_writes_what_a_local_one_writes(tmp_path, photo_dir, local_ray):
    (photo_dir / "broken.jpg").write_bytes(b"not a jpeg")
    with Index.create(tmp_path / "local", encoder=HashEncoder()) as local:
        expected = local.ingest(photo_dir)
        want = stored(local)
    with Index.create(tmp_path / "ray", encoder=HashEncoder()) as idx:
        report = idx.ingest(photo_dir, ray=True)
        assert (report.added, report.encoded, report.failed) == (
            expected.added,
            expected.encoded,
            expected.failed,
        )
        assert stored(idx) == want
        assert sorted(idx.vectors.ids().tolist()) == sorted(
            r.id for r in idx.store.all_items() if r.status == "ok"
        )

        write_image(photo_dir / "img0.jpg", seed=50)
        os.utime(photo_dir / "img0.jpg", ns=(1, 10**18))
        write_image(photo_dir / "new.png", seed=51)
        again = idx.ingest(ray=True)
        assert (again.added, again.updated, again.encoded, again.unchanged) == (1, 1, 2, 6)
        assert idx.ingest(ray=True).encoded == 0
        new = idx.store.item_by_path("new.png").id
        hits = idx.search_vector(idx.catalog.stored_vectors([new])[new], k=1)
        assert [h.id for h in hits] == [new]


class BreaksOnLargeImages(HashEncoder):
    """Fails its whole batch when an image of 30 pixels or more is in it (on the Ray worker)."""

    def embed_batch(self, prepared, instruction):
        if any(item.image is not None and item.image.width >= 30 for item in prepared):
            raise RuntimeError("the encoder broke")
        return super().embed_batch(prepared, instruction)


def test_a_failed_ray_ingest_keeps_what_it_committed_and_a_rerun_finishes(tmp_path, local_ray):
    root = tmp_path / "photos"
    for i in range(40):
        write_image(root / f"p{i:02d}.png", seed=i, size=(30 if i == 39 else 20, 20), fmt="PNG")
    with Index.create(tmp_path / "idx", encoder=BreaksOnLargeImages()) as idx:
        with pytest.raises(VsearchError, match="the Ray pipeline failed: the encoder broke"):
            idx.ingest(root, ray=True)
        done = idx.store.count()
        assert done < 40
        assert sorted(idx.vectors.ids().tolist()) == sorted(r.id for r in idx.store.all_items())
    with Index.open(tmp_path / "idx", encoder=HashEncoder()) as idx:
        report = idx.ingest(ray=True)
        assert (report.added, report.unchanged, report.failed) == (40 - done, done, [])
        assert len(idx.vectors) == 40
