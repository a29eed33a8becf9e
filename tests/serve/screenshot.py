"""Regenerate the README's screenshots of ``vsearch serve`` (not a test).

Serves an index (default: the demo index ``make demo`` builds, with its own model), opens the
page in headless Chromium, runs a query and saves the grid and the detail view.

Usage: python -m tests.serve.screenshot [--index indexes/demo] [--query "..."] [--out docs]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vsearch.serve.runner import ServerHandle, open_indexes
from vsearch.serve.state import ServerState

from .browser import start_chromium


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("indexes/demo"))
    parser.add_argument("--query", default="a cat")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    from selenium.webdriver.support.ui import WebDriverWait

    handle = ServerHandle(ServerState(open_indexes([args.index])), "127.0.0.1", 0).start()
    driver = start_chromium(1280, 800)
    try:
        driver.get(f"{handle.url}/?q={args.query}")
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script(
                "const i = [...document.querySelectorAll('#grid img')];"
                "return i.length > 0 && i.every((x) => x.complete && x.naturalWidth > 0);"
            )
        )
        args.out.mkdir(parents=True, exist_ok=True)
        _save(driver, args.out / "serve.png")
        driver.find_element("css selector", "#grid .card").click()
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script(
                "const i = document.querySelector('#detail-media img');"
                "return i && i.complete && i.naturalWidth > 0;"
            )
        )
        _save(driver, args.out / "serve-detail.png")
    finally:
        driver.quit()
        handle.stop()
    print(f"wrote {args.out / 'serve.png'} and {args.out / 'serve-detail.png'}")


def _save(driver: object, path: Path) -> None:
    """The page as a 256-colour PNG: a third of the size, no visible loss at this scale."""
    import io

    from PIL import Image

    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    shot.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)


if __name__ == "__main__":
    main()
