"""A tiny separable MMEB-train set for smoke runs: "a red square" -> a red image.

Each row's hard negative is the next colour's image. Usage:

    python -m train.data.colours DEST      # writes DEST/colours.jsonl and DEST/images/*.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (30, 40, 220),
    "yellow": (230, 220, 30),
    "purple": (140, 30, 160),
    "cyan": (30, 210, 210),
    "orange": (240, 140, 20),
    "grey": (128, 128, 128),
}
# Rows in exactly the form ingest and query build: "{instruction} {text}\n".
QUERY = "Find me an everyday image that matches the given caption: a {} square\n"
TARGET = "<|image_1|>\nRepresent the given image.\n"


def build(dest: Path, *, broken: int = 0, size: int = 32) -> Path:
    """Write the rows (plus ``broken`` rows whose image is missing); returns the JSONL path."""
    (dest / "images").mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    rows = []
    for i, name in enumerate(names):
        Image.new("RGB", (size, size), COLOURS[name]).save(dest / "images" / f"{name}.png")
        other = names[(i + 1) % len(names)]
        rows.append(
            {
                "qry": QUERY.format(name),
                "qry_image_path": "",
                "pos_text": TARGET,
                "pos_image_path": f"images/{name}.png",
                "neg_text": TARGET,
                "neg_image_path": f"images/{other}.png",
            }
        )
    rows += [{**rows[0], "pos_image_path": f"images/missing{j}.png"} for j in range(broken)]
    path = dest / "colours.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/colours")))
