"""One index, several folders: each remembered with its own excludes, all re-synced by a plain
ingest, listed and removed by `vsearch folders` (items and vectors through the catalog)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from vsearch.cli import app
from vsearch.index import Index

from .conftest import HashEncoder, write_image
from .store.test_catalog import assert_consistent

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def two_folders(tmp_path):
    pictures, phone = tmp_path / "Pictures", tmp_path / "phone"
    for i in range(3):
        write_image(pictures / f"trip/{i}.png", seed=i)
    write_image(pictures / "drafts/x.png", seed=10)
    write_image(phone / "DCIM/0.png", seed=20)
    write_image(phone / "trip/0.png", seed=21)  # the same relative path as in Pictures
    return pictures, phone


def test_ingest_several_folders_remembers_each_ones_excludes(tmp_path, two_folders):
    pictures, phone = two_folders
    index = tmp_path / "idx"
    args = ("--index", index, "--model", "test-hash", "--json")
    result = run("ingest", pictures, phone, "-x", "drafts", *args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 5
    listed = [
        json.loads(line) for line in run("folders", "--index", index, "--json").stdout.splitlines()
    ]
    assert listed == [
        {"path": str(pictures.resolve()), "items": 3, "exclude": ["drafts"]},
        {"path": str(phone.resolve()), "items": 2, "exclude": ["drafts"]},
    ]
    write_image(pictures / "drafts/y.png", seed=11)
    write_image(phone / "new.png", seed=22)
    again = json.loads(run("ingest", *args).stdout)  # no folder: all, with their own excludes
    assert (again["added"], again["encoded"], again["unchanged"]) == (1, 1, 5)
    assert json.loads(run("ingest", phone, "-x", "", *args).stdout)["added"] == 0
    listed = run("folders", "--index", index).stdout.splitlines()
    assert listed == [
        f"       3  {pictures.resolve()}  (exclude: drafts)",
        f"       3  {phone.resolve()}",
    ]
    assert_consistent(index)


def test_a_file_in_two_folders_is_found_in_each_and_similar_needs_the_full_path(
    tmp_path, two_folders
):
    pictures, phone = two_folders
    index = tmp_path / "idx"
    run("ingest", pictures, phone, "--index", index, "--model", "test-hash")
    ambiguous = run("similar", "trip/0.png", "--index", index)
    assert ambiguous.exit_code == 1
    assert (
        ambiguous.stderr
        == "error: trip/0.png is in 2 of the indexed folders; give the path to the file\n"
    )
    found = run("similar", phone / "trip/0.png", "--index", index, "-k", "10", "--paths")
    assert found.exit_code == 0 and len(found.stdout.splitlines()) == 5
    hits = run("query", "--image", phone / "trip/0.png", "--index", index, "-k", "1", "--paths")
    assert hits.stdout == f"{phone.resolve() / 'trip/0.png'}\n"


def test_folders_remove_takes_the_items_and_vectors_with_it(tmp_path, two_folders, store_url):
    pictures, phone = two_folders
    index = tmp_path / "idx"
    with Index.create(index, encoder=HashEncoder(), store_url=store_url) as idx:
        idx.ingest([pictures, phone])
        assert len(idx) == 6
        assert idx.remove_folder(phone) == 2
        assert [f.path for f in idx.folders()] == [pictures.resolve()]
        assert len(idx) == len(idx.vectors) == 4
        with pytest.raises(Exception, match="does not hold"):
            idx.remove_folder(phone)
        assert idx.ingest().added == 0  # phone stays out
        assert idx.ingest(phone).added == 2  # and comes back when named again
    assert_consistent(index)


def test_folders_remove_from_the_cli(tmp_path, two_folders):
    pictures, phone = two_folders
    index = tmp_path / "idx"
    run("ingest", pictures, phone, "--index", index, "--model", "test-hash")
    result = run("folders", "remove", phone, "--index", index)
    assert result.exit_code == 0
    assert result.stdout == f"removed {phone} and its 2 items from the index\n"
    missing = run("folders", "remove", tmp_path / "nowhere", "--index", index)
    assert missing.exit_code == 1 and "does not hold" in missing.stderr
    assert run("info", "--index", index, "--json").stdout.count('"items": 4') == 1


def test_a_missing_folder_stops_a_plain_ingest_and_loses_nothing(tmp_path, two_folders):
    pictures, phone = two_folders
    index = tmp_path / "idx"
    run("ingest", pictures, phone, "--index", index, "--model", "test-hash")
    phone.rename(tmp_path / "unplugged")
    result = run("ingest", "--index", index)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: folder {phone.resolve()} of the index does not exist; mount it, or forget it "
        f"with `vsearch folders remove {phone.resolve()}`\n"
    )
    with Index.open(index) as idx:
        assert len(idx) == 6
