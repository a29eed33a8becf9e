"""Thumbnails of indexed images: made on demand with Pillow, cached by content hash.

A thumbnail is decoded like an ingested image (``decode_image``: EXIF-transposed, bomb caps,
transparency on white), fitted into ``size`` x ``size`` and saved as a JPEG at
``<index folder>/thumbnails/<content_hash>-<size>.jpg``, written to a temporary file, synced
and renamed, so a reader never sees half a file and two requests for one thumbnail cannot
corrupt it. The key is the content hash the index recorded: an edited file keeps its old
thumbnail until the next re-sync records its new hash.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from vsearch.ingest.decode import content_hash, decode_image, read_bytes

THUMBNAIL_DIR = "thumbnails"
SIZES = (128, 256, 512)
DEFAULT_SIZE = 256
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Thumbnail:
    """A thumbnail: its bytes on disk (``path``) or, when it could not be cached, in memory."""

    etag: str
    path: Path | None = None
    data: bytes | None = None

    def read(self) -> bytes:
        """The JPEG bytes."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


def cache_path(index_folder: Path, digest: str, size: int) -> Path:
    """Where the thumbnail of content ``digest`` at ``size`` is cached."""
    return index_folder / THUMBNAIL_DIR / f"{digest}-{size}.jpg"


def thumbnail(index_folder: Path, source: Path, digest: str, size: int = DEFAULT_SIZE) -> Thumbnail:
    """The cached thumbnail of ``source``, made now if it is not cached yet.

    Args:
        index_folder: the index folder (the cache lives under it).
        source: the item's file (its absolute path, as the index knows it).
        digest: the content hash the index recorded for the file.
        size: the longest side in pixels, one of ``SIZES``.

    Returns:
        The thumbnail. When the file on disk no longer matches ``digest`` (edited since the last
        sync), it is rendered from the current bytes and not cached.

    Raises:
        ValueError: ``size`` is not one of ``SIZES`` or ``digest`` is not a hex digest.
        UnsupportedInput: the file is missing or cannot be decoded.
    """
    if size not in SIZES:
        raise ValueError(f"thumbnail size must be one of {SIZES}, got {size}")
    if not digest or not all(c in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a content hash: {digest!r}")
    etag = f'"{digest}-{size}"'
    target = cache_path(index_folder, digest, size)
    if target.is_file():
        return Thumbnail(etag, path=target)
    data = read_bytes(source)
    jpeg = render(data, size)
    if content_hash(data) != digest:
        return Thumbnail(f'"{content_hash(data)}-{size}"', data=jpeg)
    try:
        _write_atomically(target, jpeg)
    except OSError:  # a read-only index folder still gets its thumbnails, uncached
        return Thumbnail(etag, data=jpeg)
    return Thumbnail(etag, path=target)


def render(data: bytes, size: int) -> bytes:
    """JPEG bytes of the image in ``data`` fitted into ``size`` x ``size``.

    Raises:
        UnsupportedInput: not a decodable image, or one over the decoder's bomb caps.
    """
    image = decode_image(data, max_side=size).item.image
    assert image is not None
    if max(image.size) > size:
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".thumb-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
