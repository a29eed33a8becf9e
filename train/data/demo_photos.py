"""Build a small folder of real photographs, some clip art and two documents, offline, for the
README's demo.

Sources: the sample photographs inside the scikit-image wheel (CC0 or public domain; see
skimage/data/_fetchers.py for each one's author and licence), six public-domain Open Clip Art
drawings kept in ``train/data/demo_clipart`` (its README names them), and, in ``documents/``, a
screenshot-like picture of an invoice and a two-page PDF with a text layer, both written here
(``vsearch.eval.text_images``). Usage:

    python train/data/demo_photos.py DEST
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

PHOTOS = [
    "astronaut.png",  # Eileen Collins, NASA, public domain
    "camera.png",  # a man with a camera on a tripod, CC0
    "chelsea.png",  # a cat, CC0
    "coffee.png",  # a cup of coffee, CC0
    "coins.png",  # Greek coins, CC0
    "hubble_deep_field.jpg",  # galaxies, NASA, public domain
    "motorcycle_left.png",  # a motorcycle, CC0 (Middlebury stereo data)
    "rocket.jpg",  # a Falcon 9 launch, SpaceX, public domain
    "moon.png",  # the moon's surface, public domain
    "brick.png",  # a brick wall, CC0
    "grass.png",  # grass, CC0
    "gravel.png",  # gravel, CC0
]


CLIPART = Path(__file__).parent / "demo_clipart"


def build(dest: Path) -> list[Path]:
    """Copy the photos into ``dest`` and the clip art into ``dest/clipart``."""
    import skimage

    source = Path(skimage.__file__).parent / "data"
    sources = [(source / name, dest / name) for name in PHOTOS]
    sources += [(png, dest / "clipart" / png.name) for png in sorted(CLIPART.glob("*.png"))]
    copied = []
    for origin, target in sources:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copy2(origin, target)
        copied.append(target)
    return copied + documents(dest / "documents")


INVOICE = [
    "INVOICE No. 2291",
    "ACME Corporation, 12 Harbour Road",
    "Lighthouse lamp, 2 units      EUR 1,250.00",
    "Due within 30 days",
]
REPORT = [
    ["ACME Harbour Services: quarterly report", "Invoices paid this quarter: 41."],
    ["The red and white lighthouse was repainted in May.", "Next inspection: October."],
]


def documents(dest: Path) -> list[Path]:
    """A screenshot-like invoice (PNG) and a PDF report with a text layer (fpdf2)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from vsearch.eval.text_images import fonts, render, write_text_pdf

    dest.mkdir(parents=True, exist_ok=True)
    shot, report = dest / "invoice-screenshot.png", dest / "harbour-report.pdf"
    faces = fonts()
    if not shot.exists() and faces:
        render(INVOICE, font=faces[0], size=30, canvas=(900, 420)).save(shot)
    if not report.exists():
        write_text_pdf(report, REPORT)
    return [p for p in (shot, report) if p.exists()]


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-photos")
    print(
        f"{len(build(out))} files in {out}/ (photos, clip art in {out}/clipart/, a screenshot "
        f"and a PDF in {out}/documents/)"
    )
