"""A headless Chromium driven by Selenium, for the browser test and the README's screenshot."""

from __future__ import annotations

import shutil


def chromium_paths() -> tuple[str, str] | str:
    """``(chromium, chromedriver)``, or the reason there is none (to skip with)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        return (
            "no chromium/chromedriver on PATH "
            "(apt-get install chromium chromium-driver, as .ci/run does)"
        )
    return browser, driver


def start_chromium(width: int = 1280, height: int = 860):
    """A headless Chromium (as root too: CI runs as root).

    Raises:
        RuntimeError: selenium or the browser is missing; the message says what to install.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise RuntimeError(f"selenium is not installed ({exc}); pip install -e '.[dev]'") from exc
    found = chromium_paths()
    if isinstance(found, str):
        raise RuntimeError(found)
    browser, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)
