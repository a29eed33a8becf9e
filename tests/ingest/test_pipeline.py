"""Incremental sync through the real Index: real files, real SQLite, real FAISS."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vsearch.index import Index

from ..conftest import HashEncoder, write_image


@pytest.fixture
def index(tmp_path, hash_encoder, store_url):
    with Index.create(tmp_path / "idx", encoder=hash_encoder, store_url=store_url) as idx:
        yield idx


def consistent(idx: Index) -> None:
    """Store rows = stored vectors = FAISS vectors, with the same ids."""
    ok_ids = {r.id for r in idx.store.all_items() if r.status == "ok"}
    stored = set(np.concatenate([c[0] for c in idx.store.iter_vectors()] or [np.zeros(0)]).tolist())
    faiss_ids = set(idx.vectors.ids().tolist())
    assert ok_ids == stored == faiss_ids
    assert len(idx.vectors) == len(ok_ids)


def test_first_ingest_adds_everything(index, photo_dir, hash_encoder):
    report = index.ingest(photo_dir)
    assert (report.added, report.encoded, report.failed) == (7, 7, [])
    assert hash_encoder.calls == 7
    assert len(index) == 7
    consistent(index)


def test_unchanged_rerun_encodes_nothing(index, photo_dir, hash_encoder):
    index.ingest(photo_dir)
    report = index.ingest()
    assert report.unchanged == 7
    assert (report.added, report.updated, report.encoded) == (0, 0, 0)
    assert hash_encoder.calls == 7


def test_changed_file_is_reembedded_in_place(index, photo_dir):
    index.ingest(photo_dir)
    before = index.store.item_by_path("img0.jpg")
    write_image(photo_dir / "img0.jpg", seed=100)
    os.utime(photo_dir / "img0.jpg", ns=(before.mtime_ns + 10**9, before.mtime_ns + 10**9))
    report = index.ingest()
    assert (report.updated, report.encoded, report.unchanged) == (1, 1, 6)
    after = index.store.item_by_path("img0.jpg")
    assert after.id == before.id and after.content_hash != before.content_hash
    consistent(index)


def test_touched_but_identical_file_is_not_reembedded(index, photo_dir):
    index.ingest(photo_dir)
    os.utime(photo_dir / "img1.jpg", ns=(1, 1))
    report = index.ingest()
    assert (report.unchanged, report.encoded) == (7, 0)
    assert index.store.item_by_path("img1.jpg").mtime_ns == 1


def test_rename_reuses_the_vector(index, photo_dir):
    index.ingest(photo_dir)
    old = index.store.item_by_path("img2.jpg")
    (photo_dir / "moved").mkdir()
    os.rename(photo_dir / "img2.jpg", photo_dir / "moved" / "renamed.jpg")
    report = index.ingest()
    assert (report.moved, report.encoded, report.removed, report.added) == (1, 0, 0, 0)
    new = index.store.item_by_path("moved/renamed.jpg")
    assert new.id == old.id
    assert index.store.item_by_path("img2.jpg") is None
    consistent(index)


def test_duplicates_share_one_encoding(index, photo_dir, hash_encoder):
    shutil.copy(photo_dir / "img0.jpg", photo_dir / "copy-in-first-run.jpg")
    report = index.ingest(photo_dir)
    assert (report.added, report.encoded) == (8, 7)
    shutil.copy(photo_dir / "img3.png", photo_dir / "later-copy.png")
    report = index.ingest()
    assert (report.added, report.encoded, report.reused) == (1, 0, 1)
    vectors = index.store.vectors_by_id(
        [index.store.item_by_path(p).id for p in ("img3.png", "later-copy.png")]
    )
    a, b = vectors.values()
    np.testing.assert_array_equal(a, b)
    consistent(index)


def test_deleted_file_is_removed_and_never_returned(index, photo_dir, hash_encoder):
    index.ingest(photo_dir)
    gone = index.store.item_by_path("sub/img4.webp")
    query = hash_encoder.encode(
        [__import__("vsearch").Item(image=_load(photo_dir / "sub/img4.webp"))]
    )
    assert index.search_vector(query[0], k=1)[0].id == gone.id
    os.remove(photo_dir / "sub" / "img4.webp")
    report = index.ingest()
    assert report.removed == 1
    assert gone.id not in {h.id for h in index.search_vector(query[0], k=10)}
    consistent(index)


def _load(path):
    from vsearch.ingest.decode import decode_image, read_bytes

    return decode_image(read_bytes(path), max_side=256).item.image


def test_summary_is_exact_on_200_good_and_10_bad_files(index, tmp_path):
    root = tmp_path / "many"
    for i in range(200):
        write_image(root / f"d{i % 7}" / f"p{i}.png", seed=1000 + i, size=(24, 16))
    bad = {
        "zero.jpg": b"",
        "text-as.jpg": b"hello, I am not a JPEG",
        "garbage.png": os.urandom(300),
        "cut.png": (root / "d0" / "p0.png").read_bytes()[:50],
        "cut.jpg": b"\xff\xd8\xff\xe0" + os.urandom(40),
        "junk.webp": b"RIFF0000WEBPjunk",
        "junk.gif": b"GIF89a" + b"\x00" * 5,
        "empty.txt": b"   ",
        "binary.md": b"\x00\x01\x02\x03",
        "latin1.txt": b"caf\xe9 cr\xe8me",
    }
    for name, data in bad.items():
        (root / "bad" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "bad" / name).write_bytes(data)
    report = index.ingest(root)
    assert report.added == 200
    assert sorted(p for p, _ in report.failed) == sorted(f"bad/{n}" for n in bad)
    assert all(reason for _, reason in report.failed)
    assert len(index) == 200
    consistent(index)
    again = index.ingest()
    assert (again.unchanged, again.encoded, len(again.failed)) == (200, 0, 10)


def test_a_fixed_file_moves_from_failed_to_indexed(index, tmp_path):
    root = tmp_path / "r"
    root.mkdir()
    (root / "late.png").write_bytes(b"not yet")
    assert len(index.ingest(root).failed) == 1
    write_image(root / "late.png", seed=7, fmt="PNG")
    os.utime(root / "late.png", ns=(10**18, 10**18))
    report = index.ingest()
    assert (report.added, report.failed) == (1, [])
    consistent(index)


def test_a_file_that_breaks_loses_its_vector(index, photo_dir):
    index.ingest(photo_dir)
    (photo_dir / "img3.png").write_bytes(b"broken now")
    report = index.ingest()
    assert [p for p, _ in report.failed] == ["img3.png"]
    assert len(index) == 6
    consistent(index)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any folder")
def test_unreadable_folder_keeps_its_items(index, photo_dir):
    index.ingest(photo_dir)
    (photo_dir / "sub").chmod(0)
    try:
        report = index.ingest()
    finally:
        (photo_dir / "sub").chmod(0o755)
    assert report.removed == 0
    assert ("sub/", report.failed[0][1]) == report.failed[0]
    assert len(index) == 7


def test_paths_are_relative_so_index_and_photos_move_together(tmp_path, photo_dir, hash_encoder):
    with Index.create(tmp_path / "idx", encoder=hash_encoder) as idx:
        idx.ingest(photo_dir)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(tmp_path / "idx", moved / "idx")
    shutil.move(photo_dir, moved / "photos")
    with Index.open(moved / "idx", encoder=hash_encoder) as idx:
        assert idx.root == (moved / "photos").resolve()
        report = idx.ingest()
        assert (report.unchanged, report.removed, report.encoded) == (7, 0, 0)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["add", "delete", "rename", "copy", "change"]), st.integers(0, 5)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_any_sequence_of_changes_leaves_a_consistent_index(tmp_path_factory, ops):
    base = tmp_path_factory.mktemp("prop")
    root = base / "root"
    for i in range(3):
        write_image(root / f"f{i}.png", seed=i, fmt="PNG")
    with Index.create(base / "idx", encoder=HashEncoder()) as idx:
        idx.ingest(root)
        for step, (op, n) in enumerate(ops):
            files = sorted(root.glob("*.png"))
            target = files[n % len(files)] if files else None
            if op == "add" or target is None:
                write_image(root / f"new{step}.png", seed=100 + step, fmt="PNG")
            elif op == "delete":
                target.unlink()
            elif op == "rename":
                target.rename(root / f"renamed{step}.png")
            elif op == "copy":
                shutil.copy(target, root / f"copy{step}.png")
            else:
                write_image(target, seed=500 + step, fmt="PNG")
                os.utime(target, ns=(10**18 + step, 10**18 + step))
            idx.ingest()
            consistent(idx)
            assert {r.path for r in idx.store.all_items()} == {p.name for p in root.glob("*.png")}
            assert idx.ingest().encoded == 0


def test_a_sync_with_nothing_to_embed_loads_no_model(tmp_path, photo_dir, store_url):
    with Index.create(tmp_path / "idx", encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest(photo_dir)
    (photo_dir / "img0.jpg").rename(photo_dir / "renamed.jpg")
    (photo_dir / "notes.txt").unlink()
    with Index.open(tmp_path / "idx") as idx:  # the encoder would load from the registry
        report = idx.ingest()
        assert (report.moved, report.removed, report.encoded) == (1, 1, 0)
        assert idx._encoder is None


class StepRecorder:
    """A ``Steps``: each step's ``[total, advanced, finished]``, by name, in order."""

    def __init__(self) -> None:
        self.seen: dict[str, list] = {}

    def __call__(self, name: str):
        seen = self.seen

        class Recorded:
            def start(self, total: int) -> None:
                seen[name] = [total, 0, False]

            def advance(self, n: int = 1) -> None:
                seen[name][1] += n

            def finish(self) -> None:
                seen[name][2] = True

        return Recorded()


def test_long_steps_of_an_ingest_and_a_rebuild_report_progress(index, photo_dir):
    steps = StepRecorder()
    index.ingest(photo_dir, steps=steps)
    assert steps.seen == {"hashing": [7, 7, True], "saving the vector index": [1, 1, True]}
    steps.seen.clear()
    index.rebuild_vectors(steps=steps)
    assert steps.seen == {
        "reading vectors": [7, 7, True],
        "building the vector index": [7, 7, True],  # counted in vectors added
        "saving the vector index": [1, 1, True],
    }
