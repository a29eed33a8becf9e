"""A real browser (headless Chromium) on the real server: type a query, see the thumbnails."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from vsearch.index import Index
from vsearch.query import run_query
from vsearch.serve.runner import ServerHandle
from vsearch.serve.state import ServerState

from .browser import chromium_paths, start_chromium

WAIT_S = 60  # an upper bound for the page to settle, not a timing assertion


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium; skipped (with the reason) only when selenium or the browser is not
    installed. One that is installed but fails to start fails the test."""
    if importlib.util.find_spec("selenium") is None:
        pytest.skip("selenium is not installed: pip install -e '.[dev]'")
    found = chromium_paths()
    if isinstance(found, str):
        pytest.skip(found)
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def server(index: Index) -> Iterator[ServerHandle]:
    handle = ServerHandle(ServerState([index]), "127.0.0.1", 0).start()
    yield handle
    handle.stop()


def _wait(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition)


def _cards(driver) -> list[tuple[int, str]]:
    """(id, path) of the grid's cards, read in one script (the grid may re-render meanwhile)."""
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#grid .card')]"
        ".map((c) => [Number(c.dataset.id), c.dataset.path]);"
    )
    return [(int(i), str(p)) for i, p in rows]


def _images_loaded(driver) -> bool:
    return driver.execute_script(
        "const imgs = [...document.querySelectorAll('#grid .card img')];"
        "return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);"
    )


def test_a_typed_query_shows_the_expected_thumbnails(browser, server, index):
    from selenium.webdriver.common.keys import Keys

    browser.get(server.url + "/")
    _wait(
        browser, lambda d: "items of idx" in d.find_element("id", "q").get_attribute("placeholder")
    )
    box = browser.find_element("id", "q")
    box.send_keys("shopping list", Keys.ENTER)
    expected = [(h.id, h.path) for h in run_query(index, "shopping list", k=40).hits]
    _wait(browser, lambda d: len(_cards(d)) == len(expected))
    assert _cards(browser) == expected
    _wait(browser, _images_loaded)
    images = browser.find_elements("css selector", "#grid .card.image img")
    assert len(images) == 6  # every image item shows its thumbnail; the note shows its text
    scores = [s.text for s in browser.find_elements("css selector", "#grid .card .score")]
    assert scores == [f"{h.score:.3f}" for h in run_query(index, "shopping list", k=40).hits]


def test_a_filter_chip_then_the_detail_view_and_more_like_this(browser, server, index):
    from selenium.webdriver.common.keys import Keys

    browser.get(server.url + "/?q=holiday")
    _wait(browser, lambda d: len(_cards(d)) == 7)
    browser.find_element("css selector", "#kind-chips [data-kind=image]").click()
    expected = [h.id for h in run_query(index, "holiday", k=40, filters=["kind=image"]).hits]
    _wait(browser, lambda d: [i for i, _ in _cards(d)] == expected)
    first = browser.find_element("css selector", "#grid .card")
    first.click()
    _wait(browser, lambda d: d.find_element("id", "detail").is_displayed())
    title = browser.find_element("id", "detail-title").text
    assert title == first.get_attribute("data-path")
    _wait(browser, lambda d: d.execute_script(
        "const i = document.querySelector('#detail-media img'); return i && i.naturalWidth > 0;"
    ))  # fmt: skip
    browser.find_element("id", "detail-similar").click()
    like = [h.id for h in index_similar(index, expected[0])]
    _wait(browser, lambda d: [i for i, _ in _cards(d)] == like)
    assert "like" in browser.find_element("id", "status").text
    browser.find_element("tag name", "body").send_keys(Keys.ESCAPE)


def index_similar(index: Index, item_id: int):
    from vsearch.query import similar

    hit = index.get(item_id)
    return similar(index, hit.abspath, k=40, filters=["kind=image"])


def test_the_duplicates_page_shows_groups_side_by_side(browser, tmp_path, photo_dir):
    import shutil

    from ..conftest import HashEncoder

    shutil.copy(photo_dir / "img2.jpg", photo_dir / "sub" / "again.jpg")
    idx = Index.create(tmp_path / "dupes", encoder=HashEncoder())
    idx.ingest(photo_dir)
    handle = ServerHandle(ServerState([idx]), "127.0.0.1", 0).start()
    try:
        browser.get(handle.url + "/duplicates")
        _wait(browser, lambda d: d.find_elements("css selector", ".group .card"))
        cards = browser.find_elements("css selector", ".group .card")
        paths = [c.get_attribute("data-path") for c in cards]
        badges = [c.find_element("css selector", ".badge").text for c in cards]
        assert paths == ["img2.jpg", "sub/again.jpg"]
        assert badges == ["keep", "duplicate"]
    finally:
        handle.stop()
        idx.close()
