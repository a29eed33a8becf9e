"""PDFs as one item per page: pypdfium2 (PDFium) renders each page and reads its text layer.

A page's item lives at ``file.pdf#page=N`` (1-based). Its content hash covers the page's text and
a small rendering, so a changed PDF re-embeds only the pages that changed. PDFium is not
thread-safe: every call holds one lock. Imported only by ingest (pypdfium2 loads on first use).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from vsearch.errors import UnsupportedInput

#: A PDF with more pages than this is refused (each page is an item; like the image bomb cap).
MAX_PAGES = 2_000
#: A PDF file larger than this is refused before PDFium opens it.
MAX_PDF_BYTES = 512 * 1024**2
#: A page whose longer side exceeds this many points (about 2.8 m) is refused: no document has
#: one, and a crafted file could ask for a huge rendering.
MAX_PAGE_POINTS = 8_000
#: Side of the rendering that goes into a page's content hash (cheap, and catches changes of
#: images and drawings, which the text layer does not show).
HASH_SIDE = 128
#: A page is embedded from its text layer when it has at least this many letters or digits;
#: fewer, and it is treated as a scan (read by OCR where OCR is on).
MIN_LAYER_CHARS = 16
_LOCK = threading.Lock()


@dataclass(frozen=True)
class PageFacts:
    """What a page's hash is made of: its number, its text layer and a digest of both plus a
    small rendering."""

    number: int
    text: str
    digest: str

    @property
    def has_text_layer(self) -> bool:
        return sum(c.isalnum() for c in self.text) >= MIN_LAYER_CHARS


def _open(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnsupportedInput(f"cannot read file: {exc.strerror or exc}") from exc
    if size > MAX_PDF_BYTES:
        raise UnsupportedInput(f"PDF too large (over {MAX_PDF_BYTES // 1024**2} MB)")
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise UnsupportedInput("encrypted PDF (needs a password)") from exc
        raise UnsupportedInput(f"damaged or not a PDF ({reason})") from exc


def _checked_size(page: Any, number: int) -> tuple[float, float]:
    width, height = page.get_size()
    if not (0 < width <= MAX_PAGE_POINTS and 0 < height <= MAX_PAGE_POINTS):
        raise UnsupportedInput(
            f"page {number} is {width:.0f} x {height:.0f} points, over the cap of "
            f"{MAX_PAGE_POINTS} points a side"
        )
    return width, height


def _render(page: Any, size: tuple[float, float], side: int) -> Image.Image:
    scale = side / max(size)
    return page.render(scale=scale).to_pil().convert("RGB")


def _text(page: Any) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded().replace("\r\n", "\n").replace("\x00", "").strip()
    finally:
        textpage.close()


def scan(path: Path) -> list[PageFacts]:
    """Every page's text layer and content hash.

    Raises:
        UnsupportedInput: missing, encrypted, damaged, too large, or a page out of bounds.
    """
    import pypdfium2 as pdfium

    with _LOCK:
        pdf = _open(path)
        try:
            count = len(pdf)
            if count > MAX_PAGES:
                raise UnsupportedInput(f"PDF has {count} pages, over the cap of {MAX_PAGES}")
            if count == 0:
                raise UnsupportedInput("PDF has no pages")
            pages = []
            for number in range(1, count + 1):
                page = pdf[number - 1]
                try:
                    size = _checked_size(page, number)
                    text = _text(page)
                    small = _render(page, size, HASH_SIDE)
                finally:
                    page.close()
                digest = hashlib.blake2b(digest_size=20)
                digest.update(text.encode("utf-8", "surrogatepass"))
                digest.update(small.tobytes())
                pages.append(PageFacts(number, text, "page:" + digest.hexdigest()))
            return pages
        except pdfium.PdfiumError as exc:
            raise UnsupportedInput(f"damaged PDF ({exc})") from exc
        finally:
            pdf.close()


def render_page(path: Path, number: int, *, max_side: int) -> tuple[Image.Image, str]:
    """Page ``number`` (1-based) rendered with its longer side ``max_side`` pixels, and its
    text layer.

    Raises:
        UnsupportedInput: as :func:`scan`, or the page is gone.
    """
    import pypdfium2 as pdfium

    with _LOCK:
        pdf = _open(path)
        try:
            if number > len(pdf):
                raise UnsupportedInput(f"page {number} is gone (the PDF has {len(pdf)} pages)")
            page = pdf[number - 1]
            try:
                size = _checked_size(page, number)
                return _render(page, size, max_side), _text(page)
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise UnsupportedInput(f"damaged PDF ({exc})") from exc
        finally:
            pdf.close()
