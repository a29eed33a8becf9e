"""The VLM2Vec encoder: a published VLM2Vec checkpoint behind vsearch's Encoder protocol."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vsearch.encoders.base import Encoder, EncoderIdentity, Item
from vsearch.encoders.vlm2vec.inputs import (
    ImagePolicy,
    InputBuilder,
    LlavaNextInputs,
    PreparedImage,
    QwenVLInputs,
    Row,
)
from vsearch.encoders.vlm2vec.loading import load_model, model_type_of, resolve_runtime
from vsearch.encoders.vlm2vec.pooling import last_token_pool, normalize
from vsearch.encoders.vlm2vec.prompts import build_prompt, image_token
from vsearch.encoders.vlm2vec.sources import resolve
from vsearch.errors import UnsupportedInput

POOLING = "last-token"
DEFAULT_MAX_TEXT_TOKENS = 2048
DEFAULT_BATCH_SIZE = 8
OPTIONS = (
    "device",
    "dtype",
    "batch_size",
    "attn_implementation",
    "padding_side",
    "min_pixels",
    "max_pixels",
    "max_side",
    "num_crops",
    "max_text_tokens",
    "trust_remote_code",
    "merge_adapter",
)


@dataclass(frozen=True)
class Prepared:
    """An item after ``prepare``: its text and its processed image (either may be None)."""

    text: str | None
    image: PreparedImage | None


def load_vlm2vec(spec: str, **options: Any) -> VLM2VecEncoder:
    """``load_encoder``'s path loader: a directory, cached hub id or ``BASE+ADAPTER`` spec.

    Raises:
        TypeError: an unknown option; the message lists the valid ones.
        ModelNotFound: no weights on disk for the spec.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(
            f"unknown VLM2Vec option(s) {', '.join(unknown)}; valid options: {', '.join(OPTIONS)}"
        )
    return VLM2VecEncoder(spec, **options)


class VLM2VecEncoder(Encoder):
    """Embeds items exactly as the VLM2Vec reference: prompt, last real token, L2 norm.

    It does not apply a chat template, add a projection head, cache embeddings or download
    anything; an adapter checkpoint is merged into its base once, at load time.
    """

    max_image_side = 1344

    def __init__(
        self,
        spec: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        attn_implementation: str | None = None,
        padding_side: str | None = None,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        max_side: int | None = None,
        num_crops: int = ImagePolicy.num_crops,
        max_text_tokens: int | None = DEFAULT_MAX_TEXT_TOKENS,
        trust_remote_code: bool | None = None,
        merge_adapter: bool = True,
    ) -> None:
        """Load a checkpoint.

        Args:
            spec: model directory, cached hub id, adapter directory or ``BASE+ADAPTER``.
            device: ``cpu``, ``cuda`` or ``cuda:N``; default CUDA when available.
            dtype: ``float32``, ``bfloat16`` or ``float16``; default bf16 on CUDA, fp32 on CPU.
            batch_size: items per forward pass, default 8 (bounds memory with the image policy).
            attn_implementation: ``flash_attention_2``, ``sdpa`` or ``eager``; default
                flash-attention on CUDA when installed, else sdpa.
            padding_side: ``left`` or ``right``; default the tokenizer's.
            min_pixels: Qwen-VL image lower bound in pixels (default: the checkpoint's).
            max_pixels: Qwen-VL image upper bound in pixels, visual tokens = pixels / 784
                (default: the checkpoint's, capped at 1280 tokens).
            max_side: LLaVA-Next largest anyres grid side (None: the checkpoint's grids).
            num_crops: Phi-3.5-V HD crops.
            max_text_tokens: text-only rows are cut to this many tokens (None: never).
            trust_remote_code: run modeling code shipped with the checkpoint (Phi-3.5-V);
                default from ``VSEARCH_TRUST_REMOTE_CODE=1``, else refused.
            merge_adapter: merge a PEFT adapter into the weights (keep True for inference).
        """
        batch_size = DEFAULT_BATCH_SIZE if batch_size is None else batch_size
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if trust_remote_code is None:
            trust_remote_code = os.environ.get("VSEARCH_TRUST_REMOTE_CODE") == "1"
        self.source = resolve(spec)
        self.model_type = model_type_of(self.source.model_dir)
        self.image_token = image_token(self.model_type)
        self.runtime = resolve_runtime(device, dtype, attn_implementation)
        self.batch_size = batch_size
        self.model = load_model(
            self.source,
            self.runtime,
            trust_remote_code=trust_remote_code,
            merge_adapter=merge_adapter,
        )
        policy = ImagePolicy(min_pixels, max_pixels, max_side, num_crops)
        self.inputs = self._input_builder(policy, max_text_tokens, trust_remote_code)
        self.padding_side = padding_side or self._default_padding_side()
        config = self.model.config
        text_config = getattr(config, "text_config", None) or config
        self._identity = EncoderIdentity(
            model_id=self.source.model_id,
            revision=self.source.revision(),
            dim=int(text_config.hidden_size),
            pooling=POOLING,
        )

    @property
    def identity(self) -> EncoderIdentity:
        return self._identity

    def prepare(self, item: Item) -> Prepared:
        """Process the image (resize, patches); thread-safe, no model call.

        Raises:
            UnsupportedInput: a text-only item whose text is blank, or an image the backbone
                cannot take.
        """
        if item.image is None and not (item.text or "").strip():
            raise UnsupportedInput("nothing to embed: the item has no image and its text is blank")
        image = self.inputs.prepare_image(item.image) if item.image is not None else None
        return Prepared(text=item.text, image=image)

    def embed_batch(self, prepared: Sequence[Prepared], instruction: str | None) -> np.ndarray:
        """Embed prepared items; see ``prompts.build_prompt`` for the text each one becomes.

        Returns:
            ``(n, dim)`` float32, L2-normalised rows.
        """
        rows = [
            Row(
                build_prompt(
                    instruction, p.text, has_image=p.image is not None, model_type=self.model_type
                ),
                p.image,
            )
            for p in prepared
        ]
        out = torch.empty((len(rows), self.dim), dtype=torch.float32)
        for index in self._groups(rows):
            out[index] = self._forward([rows[i] for i in index])
        return out.numpy()

    @torch.inference_mode()
    def _forward(self, rows: Sequence[Row]) -> torch.Tensor:
        """``(len(rows), dim)`` float32 unit vectors for rows that share one forward pass."""
        batch = self.inputs.build_batch(rows, self.padding_side)
        batch = {
            k: v.to(self.runtime.device) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(self.runtime.dtype)
        hidden = self._language_model()(**batch, use_cache=False).last_hidden_state
        return normalize(last_token_pool(hidden, batch["attention_mask"])).cpu()

    def _groups(self, rows: Sequence[Row]) -> list[list[int]]:
        if not self.inputs.separate_modalities:
            return [list(range(len(rows)))]
        with_image = [i for i, r in enumerate(rows) if r.image is not None]
        text_only = [i for i, r in enumerate(rows) if r.image is None]
        return [g for g in (with_image, text_only) if g]

    def _language_model(self) -> torch.nn.Module:
        """The backbone without its LM head: it returns hidden states, not vocabulary logits."""
        model = self.model
        if hasattr(model, "get_base_model"):  # an unmerged PeftModel
            model = model.get_base_model()
        return model.model

    def _default_padding_side(self) -> str:
        return getattr(self.inputs, "padding_side", None) or self._tokenizer.padding_side

    def _input_builder(
        self, policy: ImagePolicy, max_text_tokens: int | None, trust_remote_code: bool
    ) -> InputBuilder:
        model_dir = self.source.model_dir
        if self.model_type == "phi3_v":
            from vsearch.encoders.vlm2vec.phi3v import Phi3VInputs

            builder = Phi3VInputs(model_dir, policy, max_text_tokens, trust_remote_code)
            self._tokenizer = builder.tokenizer
            return builder
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if self.model_type == "llava_next":
            builder = LlavaNextInputs(
                model_dir, self._tokenizer, policy, max_text_tokens, self.model.config
            )
            # The model unpads anyres features with the grids the processor used.
            self.model.config.image_grid_pinpoints = builder.pinpoints
            return builder
        return QwenVLInputs(model_dir, self._tokenizer, policy, max_text_tokens)
