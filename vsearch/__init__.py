"""vsearch: multimodal vector search with VLM2Vec encoders.

The public API: ``Index`` (and its ``Hit`` results), ``Encoder`` / ``load_encoder``, ``Item``,
and the errors. ``Index`` and the encoder names are imported on first use, so ``import vsearch``
(and with it ``vsearch --help``) loads neither numpy nor Pillow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsearch.errors import (
    EncoderMismatch,
    IndexBusy,
    IndexClosed,
    IndexNotFound,
    ModelNotFound,
    QueryError,
    SchemaVersionError,
    StoreError,
    UnsupportedInput,
    VsearchError,
)

if TYPE_CHECKING:
    from vsearch.encoders import Encoder, EncoderIdentity, Item, load_encoder
    from vsearch.hit import Hit
    from vsearch.index import Index

__version__ = "0.1.0"

__all__ = [
    "Encoder",
    "EncoderIdentity",
    "EncoderMismatch",
    "Hit",
    "Index",
    "IndexBusy",
    "IndexClosed",
    "IndexNotFound",
    "Item",
    "ModelNotFound",
    "QueryError",
    "SchemaVersionError",
    "StoreError",
    "UnsupportedInput",
    "VsearchError",
    "load_encoder",
]


_ENCODER_NAMES = ("Encoder", "EncoderIdentity", "Item", "load_encoder")


def __getattr__(name: str) -> Any:
    if name == "Hit":
        from vsearch.hit import Hit

        return Hit
    if name == "Index":
        from vsearch.index import Index

        return Index
    if name in _ENCODER_NAMES:
        from vsearch import encoders

        return getattr(encoders, name)
    raise AttributeError(f"module 'vsearch' has no attribute {name!r}")
