"""Encoder registry: a model spec (a short name, a directory, or a hub id) -> an Encoder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vsearch.encoders.base import Encoder

EncoderFactory = Callable[..., Encoder]

DEFAULT_MODEL = "label-bridge"

_FACTORIES: dict[str, EncoderFactory] = {}
_PATH_FACTORY: list[EncoderFactory] = []


def register(name: str, factory: EncoderFactory) -> None:
    """Make ``load_encoder(name)`` build an encoder with ``factory(**options)``."""
    _FACTORIES[name] = factory


def register_path_loader(factory: EncoderFactory) -> None:
    """The loader for specs that are not registered names: ``factory(spec, **options)``."""
    _PATH_FACTORY[:] = [factory]


def names() -> list[str]:
    _register_builtins()
    return sorted(_FACTORIES)


def load_encoder(spec: str | None = None, **options: Any) -> Encoder:
    """Build the encoder a spec names.

    Args:
        spec: a registered name (``label-bridge``), a model directory or a hub id;
            None means the default model.
        **options: backend options such as ``device``, ``dtype``, ``batch_size``.

    Raises:
        ValueError: the spec names nothing known.
    """
    _register_builtins()
    spec = spec or DEFAULT_MODEL
    if spec in _FACTORIES:
        return _FACTORIES[spec](**options)
    if _PATH_FACTORY:
        return _PATH_FACTORY[0](spec, **options)
    raise ValueError(f"unknown model {spec!r}; known models: {', '.join(sorted(_FACTORIES))}")


def _register_builtins() -> None:
    if DEFAULT_MODEL in _FACTORIES:
        return
    from vsearch.encoders.label_bridge import LabelBridgeEncoder
    from vsearch.encoders.vlm2vec import load_vlm2vec

    register(DEFAULT_MODEL, LabelBridgeEncoder)
    if not _PATH_FACTORY:
        # Directories and hub ids are VLM2Vec checkpoints unless another loader was set.
        register_path_loader(load_vlm2vec)
