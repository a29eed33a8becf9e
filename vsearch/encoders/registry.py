"""Encoder registry: a model spec (a short name, a directory, or a hub id) -> an Encoder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vsearch.encoders.base import Encoder
from vsearch.encoders.quiet import quiet_loading
from vsearch.errors import ModelNotFound

EncoderFactory = Callable[..., Encoder]

DEFAULT_MODEL = "mini"

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
        spec: a registered name (``mini``, ``label-bridge``), a model directory or a hub id;
            None means the default model.
        **options: backend options such as ``device``, ``dtype``, ``batch_size``.

    Raises:
        ValueError: the spec names nothing known.
    """
    _register_builtins()
    spec = spec or DEFAULT_MODEL
    with quiet_loading(transformers=not _loads_lazily(spec)):
        encoder = _build(spec, options)
    encoder.spec = canonical_spec(spec)
    return encoder


def loads_path(spec: str | None) -> bool:
    """Whether ``load_encoder(spec)`` goes to the path loader (VLM2Vec checkpoints), not to a
    registered name or a mini model folder."""
    _register_builtins()
    spec = spec or DEFAULT_MODEL
    if spec in _FACTORIES:
        return False
    from vsearch.encoders.mini import is_mini_dir

    return not is_mini_dir(spec)


def canonical_spec(spec: str) -> str:
    """``spec`` with every part that names a local path made absolute (``BASE+ADAPTER`` too)."""
    if spec in _FACTORIES:
        return spec
    parts = []
    for part in spec.split("+"):
        path = Path(part).expanduser()
        parts.append(str(path.resolve()) if path.exists() else part)
    return "+".join(parts)


def _loads_lazily(spec: str) -> bool:
    """The built-in models load their transformers parts on first need, quietly themselves."""
    from vsearch.encoders.mini import is_mini_dir

    return spec in _FACTORIES or is_mini_dir(spec)


def _build(spec: str, options: dict[str, Any]) -> Encoder:
    if spec in _FACTORIES:
        return _FACTORIES[spec](**options)
    from vsearch.encoders.mini import MiniEncoder, is_mini_dir

    if is_mini_dir(spec):
        return MiniEncoder(spec, **options)
    if _PATH_FACTORY:
        try:
            return _PATH_FACTORY[0](spec, **options)
        except ModelNotFound as exc:
            if "/" in spec or "+" in spec:
                raise
            names = ", ".join(sorted(_FACTORIES))
            raise ModelNotFound(f"{exc} (registered names: {names})") from exc
    raise ValueError(f"unknown model {spec!r}; known models: {', '.join(sorted(_FACTORIES))}")


def _register_builtins() -> None:
    if "label-bridge" in _FACTORIES:
        return
    from vsearch.encoders.label_bridge import LabelBridgeEncoder
    from vsearch.encoders.mini import MiniEncoder
    from vsearch.encoders.vlm2vec import load_vlm2vec

    register("label-bridge", LabelBridgeEncoder)
    register("mini", MiniEncoder)
    if not _PATH_FACTORY:
        # Directories and hub ids are VLM2Vec checkpoints unless another loader was set.
        register_path_loader(load_vlm2vec)
