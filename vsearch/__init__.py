"""vsearch: multimodal vector search with VLM2Vec encoders."""

from __future__ import annotations

from vsearch.encoders import Encoder, EncoderIdentity, Item, load_encoder
from vsearch.errors import (
    EncoderMismatch,
    IndexNotFound,
    ModelNotFound,
    SchemaVersionError,
    UnsupportedInput,
    VsearchError,
)

__version__ = "0.1.0"

__all__ = [
    "Encoder",
    "EncoderIdentity",
    "EncoderMismatch",
    "IndexNotFound",
    "Item",
    "ModelNotFound",
    "SchemaVersionError",
    "UnsupportedInput",
    "VsearchError",
    "load_encoder",
]
