"""What the trainer needs from an encoder: a module to optimise, embeddings with a graph, save."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import torch

from vsearch.encoders.base import Item
from vsearch.training.config import ModelConfig


class TrainableModel(Protocol):
    """An encoder in training form (``Encoder.build_for_training``'s result).

    ``embed`` sees an item's whole text (MMEB-train texts carry their instruction inline) and
    returns ``(n, d)`` embeddings with a graph; ``save`` writes what ``load_encoder`` loads.
    A model may also define ``auxiliary_loss() -> Tensor | None`` (a regulariser over what it
    embedded since the last call, added to InfoNCE each step) with ``uses_auxiliary_loss``, and
    ``reads_verbatim = True`` to get texts with their ``<|image_1|>`` placeholder kept.
    """

    module: torch.nn.Module
    max_image_side: int

    def embed(self, items: Sequence[Item]) -> torch.Tensor: ...

    def save(self, path: Path) -> None: ...


TrainableBuilder = Callable[[ModelConfig, str], TrainableModel]
_BUILDERS: dict[str, TrainableBuilder] = {}
_PATH_BUILDER: list[TrainableBuilder] = []


def register_trainable(name: str, builder: TrainableBuilder) -> None:
    """Make ``build_trainable`` use ``builder(model_config, device)`` for ``base = name``."""
    _BUILDERS[name] = builder


def register_trainable_path_builder(builder: TrainableBuilder) -> None:
    """The builder for a ``base`` that is a model folder or hub id (the vlm2vec backend)."""
    _PATH_BUILDER[:] = [builder]


def build_trainable(config: ModelConfig, device: str) -> TrainableModel:
    from vsearch.encoders.quiet import quiet_loading

    with quiet_loading():
        return _build_trainable(config, device)


def _build_trainable(config: ModelConfig, device: str) -> TrainableModel:
    if "mini" not in _BUILDERS:
        from vsearch.encoders.mini.training import build_trainable as build_mini

        register_trainable("mini", build_mini)
    if config.base in _BUILDERS:
        return _BUILDERS[config.base](config, device)
    if _PATH_BUILDER:
        return _PATH_BUILDER[0](config, device)
    from vsearch.encoders.vlm2vec.training import build_for_training

    return build_for_training(config, device)


def trainable_parameters(module: torch.nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in module.parameters() if p.requires_grad]
