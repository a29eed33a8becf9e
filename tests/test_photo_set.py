"""The hand-captioned real-photo set: captions.json is well formed and the builder works.

CI has scikit-image but not the Debian wallpaper packages, so the end-to-end build runs on the
scikit-image records (plus one record whose source is missing, which must be skipped).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train.data.photos import build as photos
from train.data.tasks import I2T_QUERY, IMAGE_TARGET, T2I_QUERY
from vsearch.encoders.base import Encoder, EncoderIdentity, Item, l2_normalize
from vsearch.eval import load_datasets, run_eval

RECORDS = json.loads(photos.CAPTIONS.read_text(encoding="utf-8"))


class DigestEncoder(Encoder):
    """A deterministic stand-in model: a vector seeded by the item's text and pixels."""

    batch_size = 8

    @property
    def identity(self) -> EncoderIdentity:
        return EncoderIdentity("test-photo-digest", "1", 16, "digest")

    def embed_batch(self, prepared: Sequence[Item], instruction: str | None) -> np.ndarray:
        rows = []
        for item in prepared:
            h = hashlib.sha256((item.text or "").encode())
            if item.image is not None:
                h.update(np.asarray(item.image).tobytes())
            seed = int.from_bytes(h.digest()[:8], "little")
            rows.append(np.random.default_rng(seed).standard_normal(16).astype(np.float32))
        return l2_normalize(np.stack(rows))


def test_records_are_complete_and_unique():
    assert 80 <= len(RECORDS) <= 150
    ids = [r["id"] for r in RECORDS]
    assert len(set(ids)) == len(ids)
    captions = [" ".join(r["caption"].lower().split()) for r in RECORDS]
    assert len(set(captions)) == len(captions)
    for r in RECORDS:
        assert set(r) == set(photos.RECORD_FIELDS), r["id"]
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r["id"]), r["id"]
        assert 4 <= len(r["caption"].split()) <= 12, r["id"]
        assert r["author"].strip() and r["licence"].strip(), r["id"]
        assert r["source_package"].strip(), r["id"]
        if r["source_path"].startswith(photos.SKIMAGE_PREFIX):
            assert r["source_package"] == "scikit-image", r["id"]
        else:
            assert r["source_path"].startswith("/usr/share/"), r["id"]
        if r["crop"] is not None:
            left, top, right, bottom = r["crop"]
            assert all(isinstance(v, int) for v in r["crop"]), r["id"]
            assert 0 <= left < right and 0 <= top < bottom, r["id"]


def test_crops_lie_inside_their_sources():
    pytest.importorskip("skimage")
    checked = 0
    for photo in photos.load_photos():
        source = photos.source_file(photo)
        if photo.crop is None or not source.is_file():
            continue
        with Image.open(source) as im:  # reads the header only
            width, height = im.size
        _, _, right, bottom = photo.crop
        assert right <= width and bottom <= height, (photo.id, photo.crop, (width, height))
        checked += 1
    assert checked >= 5  # the scikit-image crops at least


def test_install_hint_names_the_packages():
    hint = photos.install_hint(["mate-backgrounds", "plasma-workspace-wallpapers"])
    assert hint == (
        "sudo apt-get install --no-install-recommends mate-backgrounds plasma-workspace-wallpapers"
    )


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> tuple[Path, Path]:
    """A captions file of the scikit-image records and one record whose package is absent."""
    pytest.importorskip("skimage")
    tmp = tmp_path_factory.mktemp("photos")
    records = [r for r in RECORDS if r["source_package"] == "scikit-image"]
    assert len(records) >= 10
    records.append(
        {
            "id": "absent-photo",
            "source_package": "vsearch-test-absent-wallpapers",
            "source_path": str(tmp / "no-such-package" / "photo.jpg"),
            "crop": None,
            "caption": "a photo that is not installed here",
            "author": "nobody",
            "licence": "CC0-1.0",
        }
    )
    captions = tmp / "captions.json"
    captions.write_text(json.dumps(records), encoding="utf-8")
    return captions, tmp / "built"


def test_missing_package_stops_with_the_install_line(small_set, tmp_path, capsys):
    captions, _ = small_set
    with pytest.raises(SystemExit) as stop:
        photos.main(["--out", str(tmp_path / "out"), "--captions", str(captions)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "apt-get install --no-install-recommends vsearch-test-absent-wallpapers" in err
    assert not (tmp_path / "out").exists()


def test_only_available_builds_readable_rows(small_set, capsys):
    captions, out = small_set
    assert photos.main(["--out", str(out), "--only-available", "--captions", str(captions)]) == 0
    printed = capsys.readouterr().out
    assert "skipped 1 record(s)" in printed and "vsearch-test-absent-wallpapers" in printed

    kept = [r for r in json.loads(captions.read_text()) if r["id"] != "absent-photo"]
    n = len(kept)
    images = sorted(p.name for p in (out / "images").iterdir())
    assert images == sorted(f"{r['id']}.jpg" for r in kept)
    for name in images:
        with Image.open(out / "images" / name) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and max(im.size) <= 1024
    summary = json.loads((out / "summary.json").read_text())
    assert summary["built"] == n and summary["skipped"] == 1

    datasets = {d.name: d for d in load_datasets([out])}
    assert set(datasets) == {"Photos-T2I", "Photos-I2T"}
    t2i, i2t = datasets["Photos-T2I"], datasets["Photos-I2T"]
    assert t2i.meta_task == i2t.meta_task == "retrieval"
    assert len(t2i.rows) == len(i2t.rows) == n
    for record, row in zip(kept, t2i.rows, strict=True):
        assert row.qry_text == T2I_QUERY.format(caption=record["caption"])
        assert row.qry_img_path == ""
        assert row.tgt_text == (IMAGE_TARGET,) * n
        assert row.tgt_img_path[0] == f"images/{record['id']}.jpg"
        assert sorted(row.tgt_img_path) == sorted(f"images/{name}" for name in images)
        assert all((t2i.image_root / p).is_file() for p in row.tgt_img_path)
    for record, row in zip(kept, i2t.rows, strict=True):
        assert row.qry_text == I2T_QUERY
        assert row.qry_img_path == f"images/{record['id']}.jpg"
        assert row.tgt_text[0] == record["caption"]
        assert sorted(row.tgt_text) == sorted(r["caption"] for r in kept)
        assert set(row.tgt_img_path) == {""}


def test_build_is_deterministic_and_drops_stale_pictures(small_set, tmp_path):
    captions, first = small_set
    if not (first / "datasets.json").exists():
        photos.build(first, only_available=True, captions=captions)
    second = tmp_path / "again"
    (second / "images").mkdir(parents=True)
    (second / "images" / "stale.jpg").write_bytes(b"old")
    photos.build(second, only_available=True, captions=captions)
    names = sorted(p.name for p in (first / "images").iterdir())
    assert sorted(p.name for p in (second / "images").iterdir()) == names
    for name in names:
        assert (first / "images" / name).read_bytes() == (second / "images" / name).read_bytes()
    for name in ("Photos-T2I.jsonl", "Photos-I2T.jsonl", "datasets.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_eval_runs_on_the_built_set(small_set, tmp_path):
    captions, out = small_set
    if not (out / "datasets.json").exists():
        photos.build(out, only_available=True, captions=captions)
    report = run_eval([out], encoder=DigestEncoder(), cache_dir=tmp_path / "cache")
    names = {d.name for d in report.datasets}
    assert names == {"Photos-T2I", "Photos-I2T"}
    assert all(0.0 <= d.precision_at_1 <= 100.0 for d in report.datasets)
