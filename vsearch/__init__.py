"""vsearch: multimodal vector search with VLM2Vec encoders.

The public API: ``Index`` (and its ``Hit`` results), ``Encoder`` / ``load_encoder``, ``Item``,
and the errors. ``Index`` is imported on first use, so ``import vsearch`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vsearch.encoders import Encoder, EncoderIdentity, Item, load_encoder
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


def __getattr__(name: str) -> Any:
    if name in ("Index", "Hit"):
        from vsearch import index

        return getattr(index, name)
    raise AttributeError(f"module 'vsearch' has no attribute {name!r}")
