"""A tiny trainable two-input encoder for trainer tests: a word-hash embedding bag + a pixel MLP."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vsearch.encoders.base import Item

VOCAB = 64


class TinyEncoderModule(torch.nn.Module):
    def __init__(self, dim: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        self.words = torch.nn.EmbeddingBag(VOCAB, dim, mode="mean")
        self.pixels = torch.nn.Sequential(
            torch.nn.Linear(12, 32), torch.nn.Tanh(), torch.nn.Linear(32, dim)
        )
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, items: Sequence[Item]) -> torch.Tensor:
        out = []
        for item in items:
            parts = []
            if item.text:
                ids = torch.tensor([zlib.crc32(w.encode()) % VOCAB for w in item.text.split()])
                parts.append(self.words(ids[None])[0])
            if item.image is not None:
                small = np.asarray(item.image.resize((2, 2)), dtype=np.float32).reshape(-1) / 255
                parts.append(self.pixels(torch.from_numpy(small)))
            out.append(torch.stack(parts).sum(0))
        return F.normalize(self.dropout(torch.stack(out)), dim=-1)


def colour_image(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (8, 8), rgb)


class TinyTrainable:
    """TrainableModel over TinyEncoderModule (the protocol the trainer needs)."""

    max_image_side = 64

    def __init__(self, dropout: float = 0.0) -> None:
        self.module = TinyEncoderModule(dropout=dropout)

    def embed(self, items: Sequence[Item]) -> torch.Tensor:
        return self.module(items)

    def save(self, path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        torch.save(self.module.state_dict(), path / "tiny.pt")


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


def write_colour_dataset(folder, *, broken: int = 0) -> None:
    """MMEB-train rows: 'find the red square' -> a red image, the next colour as hard negative."""
    import json

    (folder / "images").mkdir(parents=True, exist_ok=True)
    names = list(COLOURS)
    rows = []
    for i, name in enumerate(names):
        colour_image(COLOURS[name]).save(folder / "images" / f"{name}.png")
        other = names[(i + 1) % len(names)]
        rows.append(
            {
                "qry": f"find the {name} square",
                "qry_image_path": "",
                "pos_text": "<|image_1|>\nRepresent the given image.",
                "pos_image_path": f"images/{name}.png",
                "neg_text": "<|image_1|>\nRepresent the given image.",
                "neg_image_path": f"images/{other}.png",
            }
        )
    for j in range(broken):
        rows.append({**rows[0], "pos_image_path": f"images/missing{j}.png"})
    with (folder / "colours.jsonl").open("w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
