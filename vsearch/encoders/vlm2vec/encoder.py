"""The VLM2Vec encoder: a published VLM2Vec checkpoint behind vsearch's Encoder protocol."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vsearch.encoders.base import Encoder, EncoderIdentity, Item
from vsearch.encoders.vlm2vec.inputs import (
    InputBuilder,
    LlavaNextInputs,
    PreparedImage,
    QwenVLInputs,
    Row,
)
from vsearch.encoders.vlm2vec.loading import (
    load_model,
    model_type_of,
    require_pil_processors,
    resolve_runtime,
)
from vsearch.encoders.vlm2vec.options import VLM2VecOptions
from vsearch.encoders.vlm2vec.pooling import last_token_pool, normalize
from vsearch.encoders.vlm2vec.prompts import build_prompt, image_token, verbatim_prompt
from vsearch.encoders.vlm2vec.sources import resolve
from vsearch.errors import UnsupportedInput

POOLING = "last-token"


@dataclass(frozen=True)
class Prepared:
    """An item after ``prepare``: its text and its processed image (either may be None)."""

    text: str | None
    image: PreparedImage | None


def load_vlm2vec(spec: str, **options: Any) -> VLM2VecEncoder:
    """``load_encoder``'s path loader: a directory, cached hub id or ``BASE+ADAPTER`` spec.

    Args:
        spec: model directory, cached hub id, adapter directory or ``BASE+ADAPTER``.
        **options: the fields of ``VLM2VecOptions`` (device, dtype, batch_size, ...).

    Raises:
        TypeError: an unknown option; the message lists the valid ones.
        ModelNotFound: no weights on disk for the spec.
    """
    return VLM2VecEncoder(spec, VLM2VecOptions.from_kwargs(**options))


class VLM2VecEncoder(Encoder):
    """Embeds items exactly as the VLM2Vec reference: prompt, last real token, L2 norm.

    It does not apply a chat template, add a projection head, cache embeddings or download
    anything; an adapter checkpoint is merged into its base once, at load time.
    """

    reads_verbatim = True
    reads_text_in_images = True

    def __init__(self, spec: str, options: VLM2VecOptions | None = None) -> None:
        """Load a checkpoint from disk (see ``sources`` for the spec forms)."""
        options = options or VLM2VecOptions()
        require_pil_processors()
        self.options = options
        self.batch_size = options.effective_batch_size
        self.source = resolve(spec)
        self.model_type = model_type_of(self.source.model_dir)
        self.image_token = image_token(self.model_type)
        self.runtime = resolve_runtime(options.device, options.dtype, options.attn_implementation)
        self.model = load_model(
            self.source,
            self.runtime,
            trust_remote_code=options.allows_remote_code,
            merge_adapter=options.merge_adapter,
        )
        self.inputs = self._input_builder()
        # A squashing policy resizes the image itself; the decoder should not shrink it first.
        self.max_image_side = 1344 if options.image_policy.square_side is None else 4096
        self.padding_side = (
            options.padding_side
            or getattr(self.inputs, "padding_side", None)
            or self.inputs.tokenizer.padding_side
        )
        text_config = getattr(self.model.config, "text_config", None) or self.model.config
        self._identity = EncoderIdentity(
            model_id=self.source.model_id,
            revision=self._revision(),
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
        return self._embed_rows(rows)

    def encode_verbatim(self, items: Sequence[Item]) -> np.ndarray:
        """Embed MMEB-format texts exactly as written, as the reference does: only
        ``<|image_1|>`` becomes the backbone's image token (placed first when a text with an
        image lacks it). Training and ``vsearch eval`` embed MMEB rows this way.

        Returns:
            ``(len(items), dim)`` float32, L2-normalised rows.
        """
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            rows = self.verbatim_rows([self.prepare(item) for item in chunk])
            out[start : start + len(chunk)] = self._embed_rows(rows)
        return out

    def verbatim_rows(self, prepared: Sequence[Prepared]) -> list[Row]:
        """Rows whose prompts are the items' MMEB-format texts (see ``encode_verbatim``)."""
        return [
            Row(
                verbatim_prompt(p.text, has_image=p.image is not None, model_type=self.model_type),
                p.image,
            )
            for p in prepared
        ]

    def _embed_rows(self, rows: Sequence[Row]) -> np.ndarray:
        out = torch.empty((len(rows), self.dim), dtype=torch.float32)
        for index in self._groups(rows):
            out[index] = self._forward([rows[i] for i in index])
        return out.numpy()

    @torch.inference_mode()
    def _forward(self, rows: Sequence[Row]) -> torch.Tensor:
        """``(len(rows), dim)`` float32 unit vectors for rows that share one forward pass."""
        return self.forward_rows(rows).cpu()

    def forward_rows(self, rows: Sequence[Row]) -> torch.Tensor:
        """Like ``_forward``, on the model's device, in the caller's grad mode (training)."""
        batch = self.inputs.build_batch(rows, self.padding_side)
        batch = {
            k: v.to(self.runtime.device) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }
        if "pixel_values" in batch:
            batch["pixel_values"] = batch["pixel_values"].to(self.runtime.dtype)
        hidden = self._language_model()(**batch, use_cache=False).last_hidden_state
        return normalize(last_token_pool(hidden, batch["attention_mask"]))

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

    def _revision(self) -> str:
        """The files' fingerprint combined with the input recipe (positions, image policy).

        The recipe joined the revision when the 1-D reference positions became the default:
        vectors of indexes built before then (M-RoPE positions) differ, so those indexes ask
        for a re-ingest instead of mixing old and new vectors.
        """
        recipe = f"{self.source.revision()}|{self.options.input_recipe()}"
        return hashlib.sha256(recipe.encode()).hexdigest()[:16]

    def _input_builder(self) -> InputBuilder:
        model_dir, options = self.source.model_dir, self.options
        policy, max_text = options.image_policy, options.max_text_tokens
        if self.model_type == "phi3_v":
            from vsearch.encoders.vlm2vec.phi3v import Phi3VInputs

            return Phi3VInputs(model_dir, policy, max_text, options.allows_remote_code)
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        if self.model_type == "llava_next":
            builder = LlavaNextInputs(model_dir, tokenizer, policy, max_text, self.model.config)
            # The model unpads anyres features with the grids the processor used.
            self.model.config.image_grid_pinpoints = builder.pinpoints
            return builder
        return QwenVLInputs(model_dir, tokenizer, policy, max_text, options.effective_positions)
