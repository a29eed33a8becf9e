"""Where mini weights live and how they are read and written: safetensors + ``mini.json``.

A mini model folder holds ``model.safetensors`` (the trained tensors only: projector, label
token, LoRA) and ``mini.json`` (the architecture config, plus for the shipped model the recipe,
data version and eval scores). The frozen parts come from the EfficientNet-Lite0 and
all-MiniLM-L6-v2 wheels, so a folder is a few MB and loads offline.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from pathlib import Path
from typing import Any

import torch

from vsearch.atomic import atomic_path, write_text
from vsearch.encoders.mini.model import MiniConfig

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "mini.json"


def shipped_dir() -> Path:
    """The folder of the weights shipped inside the package."""
    return Path(str(importlib.resources.files("vsearch.encoders.mini") / "weights"))


def is_mini_dir(path: str | os.PathLike[str]) -> bool:
    folder = Path(path).expanduser()
    return (folder / CONFIG_NAME).is_file() and (folder / WEIGHTS_NAME).is_file()


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder / CONFIG_NAME}: cannot read the mini manifest ({exc})") from exc


def read_weights(folder: Path) -> tuple[MiniConfig, dict[str, torch.Tensor], str]:
    """The config, the trained tensors and the digest of both (the model's revision)."""
    from safetensors.torch import load

    manifest = read_manifest(folder)
    config = MiniConfig.from_dict(manifest["config"])
    data = (folder / WEIGHTS_NAME).read_bytes()  # read once: hashed and loaded
    digest = hashlib.sha256(data)
    digest.update(json.dumps(manifest["config"], sort_keys=True).encode())
    return config, load(data), digest.hexdigest()


def write_weights(
    folder: Path, config: MiniConfig, tensors: dict[str, torch.Tensor], **facts: Any
) -> None:
    """Write a model folder atomically; ``facts`` (recipe, data, eval) join the manifest."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
    with atomic_path(folder / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp))
    manifest = {"architecture": "vsearch-mini", "config": config.to_dict(), **facts}
    write_text(folder / CONFIG_NAME, json.dumps(manifest, indent=2) + "\n")
