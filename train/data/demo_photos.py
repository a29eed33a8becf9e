"""Build a small folder of real photographs and some clip art, offline, for the README's demo.

Sources: the sample photographs inside the scikit-image wheel (CC0 or public domain; see
skimage/data/_fetchers.py for each one's author and licence) and six public-domain Open Clip Art
drawings kept in ``train/data/demo_clipart`` (its README names them). Usage:

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
    return copied


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-photos")
    print(f"{len(build(out))} pictures in {out}/ (photos, and clip art in {out}/clipart/)")
