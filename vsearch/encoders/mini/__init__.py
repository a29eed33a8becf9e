"""mini: the default encoder, a small VLM2Vec-style model trained by our trainer (DESIGN §4)."""

from __future__ import annotations

from vsearch.encoders.mini.encoder import MiniEncoder
from vsearch.encoders.mini.weights import is_mini_dir, shipped_dir

__all__ = ["MiniEncoder", "is_mini_dir", "shipped_dir"]
