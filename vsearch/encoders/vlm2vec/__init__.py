"""VLM2Vec backends: Qwen2-VL / Qwen2.5-VL, LLaVA-Next and Phi-3.5-V checkpoints on CPU or GPU.

Importing this package is cheap; torch and transformers load with the first model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vsearch.encoders.vlm2vec.encoder import VLM2VecEncoder

__all__ = ["load_vlm2vec"]


def load_vlm2vec(spec: str, **options: Any) -> VLM2VecEncoder:
    """Load a VLM2Vec checkpoint; see ``VLM2VecEncoder`` for the options."""
    from vsearch.encoders.vlm2vec.encoder import load_vlm2vec as _load

    return _load(spec, **options)
