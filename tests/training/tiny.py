"""A tiny trainable two-input encoder for trainer tests: a word-hash embedding bag + a pixel MLP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vsearch.encoders.base import Item

VOCAB = 64


class TinyEncoderModule(torch.nn.Module):
    def __init__(self, dim: int = 16, dropout: float = 0.0) -> None:
        super().__init__()
        self.words = torch.nn.EmbeddingBag(VOCAB, dim, mode="sum")
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


def write_colour_dataset(folder, *, broken: int = 0) -> None:
    from train.data.colours import build

    build(folder, broken=broken, size=8)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(script: Path, processes: int, *, pythonpath: str) -> subprocess.CompletedProcess:
    """Run ``script`` alone, or under torchrun as ``processes`` gloo ranks on a free local port
    (one OpenMP thread each; a generous timeout, the 2-core CI runner is shared)."""
    command = [sys.executable, str(script)]
    if processes > 1:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={processes}",
            "--master_addr=127.0.0.1",
            f"--master_port={free_port()}",
            str(script),
        ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": pythonpath}
    return subprocess.run(
        command, cwd=script.parent, env=env, capture_output=True, text=True, timeout=900
    )
