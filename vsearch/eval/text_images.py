"""Text-bearing images and PDFs made offline, for the OCR tests and bench/bench_ocr.py.

Sentences are drawn with Pillow in Debian's DejaVu and Liberation fonts, at several sizes and
rotations, with noise, JPEG artefacts and backgrounds (plain, paper-like or a photo); PDFs are
written with a text layer (fpdf2, a dev dependency) or as scans (Pillow's PDF writer, images
only).
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
FONT_NAMES = (
    "DejaVuSans.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansMono.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationMono-Regular.ttf",
)


def fonts() -> list[Path]:
    """The installed fonts of ``FONT_NAMES`` (apt-get install fonts-dejavu-core
    fonts-liberation)."""
    found = [d / n for n in FONT_NAMES for d in FONT_DIRS if (d / n).is_file()]
    return found


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if font.getlength(trial) > width and line:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else lines


def render(
    lines: list[str],
    *,
    font: Path,
    size: int = 32,
    canvas: tuple[int, int] = (960, 640),
    background: Image.Image | None = None,
    angle: float = 0.0,
    noise: float = 0.0,
    seed: int = 0,
) -> Image.Image:
    """``lines`` (each wrapped to the canvas) drawn dark on ``background`` (default white).

    A photo background gets a pale panel behind the text, as a sign or a caption has.
    """
    rng = random.Random(seed)
    face = ImageFont.truetype(str(font), size)
    if background is None:
        shade = rng.randint(225, 255)
        image = Image.new("RGB", canvas, (shade, shade, max(shade - rng.randint(0, 20), 0)))
    else:
        image = background.convert("RGB").resize(canvas)
    wrapped = [w for line in lines for w in _wrap(line, face, canvas[0] - 80)]
    step = int(size * 1.4)
    height = step * len(wrapped)
    top = max(20, (canvas[1] - height) // 2 + rng.randint(-20, 20))
    draw = ImageDraw.Draw(image)
    if background is not None:
        draw.rectangle([30, top - 15, canvas[0] - 30, top + height + 10], fill=(240, 238, 230))
    ink = tuple(rng.randint(0, 60) for _ in range(3))
    for i, line in enumerate(wrapped):
        draw.text((40 + rng.randint(0, 10), top + i * step), line, font=face, fill=ink)
    if angle:
        image = image.rotate(
            angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=image.getpixel((0, 0))
        )
    if noise:
        grain = Image.effect_noise(canvas, 64).convert("RGB")
        image = Image.blend(image, grain, noise)
        image = image.filter(ImageFilter.GaussianBlur(0.4))
    return image


def write_text_pdf(path: Path, pages: list[list[str]], *, font: Path | None = None) -> None:
    """A PDF whose pages carry ``pages``' lines as real text (a text layer)."""
    from fpdf import FPDF

    pdf = FPDF()
    if font is not None:
        pdf.add_font("body", fname=str(font))
    for lines in pages:
        pdf.add_page()
        pdf.set_font("body" if font is not None else "helvetica", size=14)
        for line in lines:
            pdf.multi_cell(0, 9, line)
            pdf.ln(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))


def write_scanned_pdf(path: Path, pages: list[Image.Image]) -> None:
    """A PDF of page images only (no text layer), as a scanner writes one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    first, *rest = [p.convert("RGB") for p in pages]
    first.save(path, "PDF", resolution=100.0, save_all=True, append_images=rest)
