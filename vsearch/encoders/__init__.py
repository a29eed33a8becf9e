"""Encoders: the protocol, instruction templates and the registry of backends."""

from __future__ import annotations

from vsearch.encoders.base import Encoder, EncoderIdentity, Item, l2_normalize
from vsearch.encoders.registry import DEFAULT_MODEL, load_encoder, register

__all__ = [
    "DEFAULT_MODEL",
    "Encoder",
    "EncoderIdentity",
    "Item",
    "l2_normalize",
    "load_encoder",
    "register",
]
