from __future__ import annotations

import io
from datetime import datetime

import pytest
from PIL import Image

from vsearch.errors import UnsupportedInput
from vsearch.ingest.decode import content_hash, decode, decode_image, decode_text, read_bytes


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


RED = Image.new("RGB", (40, 30), (220, 20, 20))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF"])
def test_every_listed_format_decodes_to_rgb(fmt):
    decoded = decode_image(encoded(RED, fmt), max_side=512)
    image = decoded.item.image
    assert image.mode == "RGB"
    assert image.size == (40, 30)
    assert (decoded.width, decoded.height) == (40, 30)
    r, g, b = image.getpixel((20, 15))
    assert r > 180 and g < 70 and b < 70


def test_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (16, 16), c) for c in [(0, 0, 255), (0, 255, 0)]]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    image = decode_image(buf.getvalue(), max_side=64).item.image
    _, g, b = image.getpixel((8, 8))
    assert b > 200 and g < 50


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_transparency_is_composited_on_white(fmt):
    clear = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    assert decode_image(encoded(clear, fmt), max_side=64).item.image.getpixel((5, 5)) == (
        255,
        255,
        255,
    )


def test_exif_orientation_is_applied_and_size_reported_upright():
    wide = Image.new("RGB", (60, 20), (0, 0, 0))
    wide.paste((255, 255, 255), (0, 0, 10, 20))  # white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    decoded = decode_image(encoded(wide, "JPEG", exif=exif), max_side=512)
    assert decoded.item.image.size == (20, 60)
    assert (decoded.width, decoded.height) == (20, 60)
    assert decoded.item.image.getpixel((10, 2))[0] > 200  # the band is now on top


def test_exif_facts_are_extracted():
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 18:30:05"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (52.0, 30.0, 0.0)
    gps[3], gps[4] = "W", (1.0, 15.0, 0.0)
    facts = decode_image(encoded(RED, "JPEG", exif=exif), max_side=64).facts
    assert facts["camera_make"] == "Canon"
    assert facts["camera_model"] == "EOS 5D"
    assert facts["taken_at"] == datetime(2021, 7, 14, 18, 30, 5)
    assert facts["gps_lat"] == pytest.approx(52.5)
    assert facts["gps_lon"] == pytest.approx(-1.25)
    assert facts["exif"]["Make"] == "Canon"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_huge_images_are_downscaled_not_refused(fmt):
    big = Image.new("RGB", (4000, 3000), (10, 200, 10))
    decoded = decode_image(encoded(big, fmt), max_side=256)
    assert max(decoded.item.image.size) == 256
    assert (decoded.width, decoded.height) == (4000, 3000)


def test_decompression_bomb_is_refused_with_a_reason(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = encoded(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(UnsupportedInput, match="too large"):
        decode_image(data, max_side=64)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is not an image at all", "not a recognised image"),
        (encoded(RED, "PNG")[:60], "corrupt or truncated"),
        (encoded(Image.new("RGB", (300, 300), (1, 2, 3)), "JPEG")[:400], "corrupt or truncated"),
    ],
)
def test_bad_images_raise_unsupported_input(data, reason):
    with pytest.raises(UnsupportedInput, match=reason):
        decode_image(data, max_side=64)


def test_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedInput, match="empty file"):
        read_bytes(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(UnsupportedInput, match="cannot read"):
        read_bytes(tmp_path / "gone.jpg")


def test_text_decoding():
    assert decode_text("\ufeff  hello world \n".encode()).item.text == "hello world"
    assert decode("é".encode(), "text", max_side=1).facts["text"] == "é"
    with pytest.raises(UnsupportedInput, match="binary"):
        decode_text(b"\x00\x01\x02abc")
    with pytest.raises(UnsupportedInput, match="not UTF-8"):
        decode_text(b"caf\xe9")
    with pytest.raises(UnsupportedInput, match="empty text"):
        decode_text(b"   \n ")


def test_content_hash_depends_on_bytes_only():
    assert content_hash(b"abc") == content_hash(b"abc") != content_hash(b"abd")
