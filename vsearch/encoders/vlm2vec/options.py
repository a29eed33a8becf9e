"""The knobs of the VLM2Vec backend, as ``load_encoder(spec, **options)`` takes them."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from vsearch.encoders.vlm2vec.images import (
    DEFAULT_RESOLUTION,
    RESOLUTIONS,
    ImagePolicy,
    image_policy,
)
from vsearch.encoders.vlm2vec.inputs import POSITIONS

DEFAULT_BATCH_SIZE = 8
DEFAULT_MAX_TEXT_TOKENS = 2048


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class VLM2VecOptions:
    """Options of a VLM2Vec encoder; None means "the default", so a CLI can pass absent flags."""

    device: str | None = _opt(None, "cpu, cuda or cuda:N; default CUDA when available")
    dtype: str | None = _opt(None, "float32, bfloat16 or float16; default bf16 on CUDA, else fp32")
    batch_size: int | None = _opt(None, f"items per forward pass; default {DEFAULT_BATCH_SIZE}")
    attn_implementation: str | None = _opt(
        None, "flash_attention_2, sdpa or eager; default flash-attn on CUDA if installed, else sdpa"
    )
    padding_side: str | None = _opt(None, "left or right; default the tokenizer's")
    image_resolution: str | None = _opt(
        None,
        f"{', '.join(RESOLUTIONS)}: image size policy (default {DEFAULT_RESOLUTION}; "
        "reference squashes to 1344x1344 as the VLM2Vec reference does)",
    )
    positions: str | None = _opt(
        None,
        f"Qwen-VL rotary positions: {' or '.join(POSITIONS)} (default reference: 1-D, as "
        "the VLM2Vec checkpoints were trained)",
    )
    min_pixels: int | None = _opt(None, "Qwen-VL: fewest pixels after resizing (default: model's)")
    max_pixels: int | None = _opt(
        None, "Qwen-VL: most pixels, 784 per visual token (default: model's, at most 1280 tokens)"
    )
    max_side: int | None = _opt(None, "LLaVA-Next: largest anyres grid side (default: model's)")
    num_crops: int | None = _opt(None, f"Phi-3.5-V: HD crops (default {ImagePolicy.num_crops})")
    max_text_tokens: int | None = _opt(
        DEFAULT_MAX_TEXT_TOKENS, "text-only rows are cut to this many tokens"
    )
    trust_remote_code: bool | None = _opt(
        None, "run code shipped with the checkpoint (Phi-3.5-V); default VSEARCH_TRUST_REMOTE_CODE"
    )
    merge_adapter: bool = _opt(True, "merge a PEFT adapter into the weights (inference)")

    @classmethod
    def from_kwargs(cls, **options: Any) -> VLM2VecOptions:
        """Options from keyword arguments.

        Raises:
            TypeError: an unknown option; the message lists the valid ones.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise TypeError(
                f"unknown VLM2Vec option(s) {', '.join(unknown)}; valid options: {', '.join(names)}"
            )
        return cls(**options)

    @property
    def effective_batch_size(self) -> int:
        size = DEFAULT_BATCH_SIZE if self.batch_size is None else self.batch_size
        if size < 1:
            raise ValueError(f"batch_size must be at least 1, got {size}")
        return size

    @property
    def allows_remote_code(self) -> bool:
        if self.trust_remote_code is not None:
            return self.trust_remote_code
        return os.environ.get("VSEARCH_TRUST_REMOTE_CODE") == "1"

    @property
    def image_policy(self) -> ImagePolicy:
        return image_policy(
            self.image_resolution,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
            max_side=self.max_side,
            num_crops=self.num_crops,
        )

    @property
    def effective_positions(self) -> str:
        positions = self.positions or POSITIONS[0]
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}; valid: {', '.join(POSITIONS)}")
        return positions

    def input_recipe(self) -> str:
        """What changes the vectors besides the weights: it goes into the encoder's revision,
        so indexes and eval caches never mix vectors made from different inputs."""
        policy = self.image_policy
        return (
            f"positions={self.effective_positions};images={policy.name};"
            f"px={policy.min_pixels},{policy.max_pixels};side={policy.max_side};"
            f"crops={policy.num_crops}"
        )
