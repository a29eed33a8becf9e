"""Read one file safely into an ``Item`` plus the facts the store keeps about it.

Images: EXIF orientation applied, transparency composited on white, GIFs' first frame, HEIC/HEIF
(pillow-heif) and AVIF (Pillow), size-capped: JPEGs decode at reduced scale (draft mode), others
are downscaled after decoding. Every failure is an ``UnsupportedInput`` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from vsearch.encoders.base import Item
from vsearch.errors import UnsupportedInput

pillow_heif.register_heif_opener()
# Pillow warns between MAX_IMAGE_PIXELS and twice that; we downscale such images on purpose and
# refuse only above twice that (DecompressionBombError), so the warning says nothing new.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

MAX_TEXT_CHARS = 200_000
#: Bytes read of a text file: enough for MAX_TEXT_CHARS characters in any UTF-8 (what lies beyond
#: is never embedded, so it is never read either).
MAX_TEXT_BYTES = 4 * MAX_TEXT_CHARS + 3
#: An image file larger than this is refused before it is read (a 100-megapixel JPEG is ~50 MB).
MAX_IMAGE_BYTES = 256 * 1024**2
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825


@dataclass
class Decoded:
    item: Item
    width: int | None = None
    height: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # taken_at, camera_*, gps_*, exif, text


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def read_bytes(path: Path, kind: str = "image") -> bytes:
    """The bytes of a regular file, bounded: an image above ``MAX_IMAGE_BYTES`` is refused, a text
    is read up to ``MAX_TEXT_BYTES``.

    A FIFO, socket or device is refused without waiting on it (opened non-blocking, checked with
    ``fstat``), and the cap holds while reading, for a file that grows or lies about its size.

    Raises:
        UnsupportedInput: unreadable, not a regular file, empty, or too large.
    """
    limit = MAX_TEXT_BYTES if kind == "text" else MAX_IMAGE_BYTES
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise UnsupportedInput(f"cannot read file: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsupportedInput(f"not a regular file ({_file_type(mode)})")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UnsupportedInput(f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > limit:
        if kind == "text":
            return data[:limit]
        raise UnsupportedInput(f"file too large for an image (over {limit // 1024**2} MB)")
    if not data:
        raise UnsupportedInput("empty file (0 bytes)")
    return data


def _file_type(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISCHR: "a device"}
    kinds |= {stat.S_ISBLK: "a device", stat.S_ISDIR: "a folder"}
    return next((name for test, name in kinds.items() if test(mode)), "not a plain file")


def decode(data: bytes, kind: str, *, max_side: int, name: str = "") -> Decoded:
    if kind == "text":
        return decode_text(data, html=name.lower().endswith((".html", ".htm")))
    return decode_image(data, max_side=max_side)


def decode_text(data: bytes, *, html: bool = False) -> Decoded:
    if b"\x00" in data[:8192]:
        raise UnsupportedInput("not a text file (binary content)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or len(data) < MAX_TEXT_BYTES:
            raise UnsupportedInput(f"not UTF-8 text (invalid byte at offset {exc.start})") from exc
        text = data[: exc.start].decode("utf-8-sig")  # a character cut by the read cap
    if html:
        text = html_text(text)
    text = text.strip()[:MAX_TEXT_CHARS]
    if not text:
        raise UnsupportedInput("empty text")
    return Decoded(item=Item(text=text), facts={"text": text, "text_source": "file"})


class _HTMLText(HTMLParser):
    """The text a browser shows of an HTML page: no tags, scripts or styles; blocks on lines."""

    _HIDDEN = frozenset({"script", "style", "template", "noscript"})
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """The visible text of an HTML document (the title included), whitespace collapsed."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def decode_image(data: bytes, *, max_side: int) -> Decoded:
    try:
        image = Image.open(io.BytesIO(data))
        exif = image.getexif()
        width, height = _oriented_size(image.size, exif)
        if image.format == "JPEG":
            image.draft("RGB", _fit(image.size, max_side))
        image.load()
        image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
    except Image.DecompressionBombError as exc:
        raise UnsupportedInput(f"image too large to decode safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedInput(
            "not a recognised image (unknown format or wrong extension)"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnsupportedInput(f"corrupt or truncated image: {exc}") from exc
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return Decoded(item=Item(image=rgb), width=width, height=height, facts=exif_facts(exif))


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """``size`` scaled so its longer side is ``max_side`` (JPEG draft needs both sides)."""
    scale = max_side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _oriented_size(size: tuple[int, int], exif: Image.Exif) -> tuple[int, int]:
    rotated = exif.get(ExifTags.Base.Orientation) in (5, 6, 7, 8)
    return (size[1], size[0]) if rotated else size


def _to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def exif_facts(exif: Image.Exif) -> dict[str, Any]:
    """taken_at, camera make/model, GPS and every printable EXIF tag, where present."""
    if not exif:
        return {}
    base = dict(exif)
    sub = exif.get_ifd(_EXIF_IFD)
    facts: dict[str, Any] = {
        "taken_at": _exif_datetime(sub.get(ExifTags.Base.DateTimeOriginal))
        or _exif_datetime(base.get(ExifTags.Base.DateTime)),
        "camera_make": _clean_str(base.get(ExifTags.Base.Make)),
        "camera_model": _clean_str(base.get(ExifTags.Base.Model)),
    }
    lat, lon = _gps(exif.get_ifd(_GPS_IFD))
    facts.update(gps_lat=lat, gps_lon=lon)
    printable = {}
    for tag, value in {**base, **sub}.items():
        name = ExifTags.TAGS.get(tag)
        if name and not isinstance(value, bytes | dict) and tag not in (_EXIF_IFD, _GPS_IFD):
            printable[name] = _clean_str(value) if isinstance(value, str) else str(value)[:200]
    facts["exif"] = printable or None
    return {k: v for k, v in facts.items() if v is not None}


def _clean_str(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:200] or None


def _exif_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.replace("\x00", "").strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _gps(gps: dict[int, Any]) -> tuple[float | None, float | None]:
    def degrees(dms: Any, ref: Any, negative: str) -> float | None:
        try:
            d, m, s = (float(x) for x in dms)
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        value = d + m / 60 + s / 3600
        return -value if str(ref).upper().startswith(negative) else value

    if not gps:
        return None, None
    return degrees(gps.get(2), gps.get(1), "S"), degrees(gps.get(4), gps.get(3), "W")
