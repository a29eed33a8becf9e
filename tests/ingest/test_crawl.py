from __future__ import annotations

import os

import pytest

from vsearch.ingest.crawl import crawl

from ..conftest import write_image


def names(result):
    return [f.relpath for f in result.files]


def test_crawl_lists_images_texts_and_documents_and_skips_the_rest(tmp_path):
    write_image(tmp_path / "a.jpg", 1)
    write_image(tmp_path / "deep" / "er" / "B.PNG", 2, fmt="PNG")
    (tmp_path / "c.md").write_text("# notes")
    (tmp_path / "d.pdf").write_bytes(b"%PDF")
    (tmp_path / "e.docx").write_bytes(b"PK")
    (tmp_path / "f.html").write_text("<p>hi</p>")
    result = crawl(tmp_path)
    assert names(result) == ["a.jpg", "c.md", "d.pdf", "deep/er/B.PNG", "f.html"]
    assert [f.kind for f in result.files] == ["image", "text", "document", "image", "text"]
    assert result.files[0].size == (tmp_path / "a.jpg").stat().st_size


def test_hidden_and_tool_folders_are_skipped(tmp_path):
    for folder in [".hidden", ".git", "node_modules", "@eaDir", "keep"]:
        write_image(tmp_path / folder / "x.jpg", 1)
    assert names(crawl(tmp_path)) == ["keep/x.jpg"]


def test_exclude_globs_match_paths_and_names(tmp_path):
    write_image(tmp_path / "raw" / "x.jpg", 1)
    write_image(tmp_path / "keep" / "y.jpg", 2)
    write_image(tmp_path / "keep" / "y.tmp.png", 3, fmt="PNG")
    assert names(crawl(tmp_path, exclude=["raw", "*.tmp.*"])) == ["keep/y.jpg"]
    assert names(crawl(tmp_path, exclude=["raw/*"])) == ["keep/y.jpg", "keep/y.tmp.png"]


def test_broken_links_are_reported_and_linked_folders_not_followed(tmp_path):
    root = tmp_path / "root"
    write_image(root / "a.jpg", 1)
    os.symlink(tmp_path / "missing.jpg", root / "broken.jpg")
    write_image(tmp_path / "elsewhere" / "b.jpg", 2)
    os.symlink(tmp_path / "elsewhere", root / "linked")
    result = crawl(root)
    assert names(result) == ["a.jpg"]
    assert result.bad_files == [("broken.jpg", "broken link")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can list any folder")
def test_unreadable_folders_are_reported(tmp_path):
    write_image(tmp_path / "locked" / "a.jpg", 1)
    (tmp_path / "locked").chmod(0)
    try:
        result = crawl(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert result.bad_dirs[0][0] == "locked/"
    assert result.is_under_bad_dir("locked/a.jpg")


def test_unlistable_root_is_reported(tmp_path):
    result = crawl(tmp_path / "does-not-exist")
    assert result.files == []
    assert result.bad_dirs[0][0] == "/"
    assert result.is_under_bad_dir("anything/at/all.jpg")
