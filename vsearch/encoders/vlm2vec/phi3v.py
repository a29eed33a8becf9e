"""Phi-3.5-V inputs (VLM2Vec-Full, VLM2Vec-LoRA), through the processor shipped with the model.

Phi-3.5-V's modeling and processing code comes with the checkpoint, so it only runs when the
user allows remote code. Its processor turns ``<|image_1|>`` into a run of negative ids, one per
visual token, and needs the text and the image together, so each row is processed alone here.
Image rows and text-only rows run in separate forward passes: the checkpoint's own model code
is not written for batches that mix them.

This module is not covered by the offline tests (no Phi-3.5-V code or weights can be fetched
here); the prompt mapping it relies on is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from vsearch.encoders.vlm2vec.images import ImagePolicy
from vsearch.encoders.vlm2vec.inputs import (
    PreparedImage,
    Row,
    pad_id_of,
    pad_ids,
    pad_patches,
)
from vsearch.errors import VsearchError


class Phi3VInputs:
    """Inputs for Phi-3.5-V: right padding (as the reference), HD crops from the policy."""

    image_token = "<|image_1|>"
    separate_modalities = True
    padding_side = "right"

    def __init__(
        self,
        model_dir: Path,
        policy: ImagePolicy,
        max_text_tokens: int | None,
        trust_remote_code: bool,
    ) -> None:
        if not trust_remote_code:
            raise VsearchError(
                f"Phi-3.5-V's processor in {model_dir} is remote code; allow it with "
                "trust_remote_code=True (VSEARCH_TRUST_REMOTE_CODE=1)"
            )
        from transformers import AutoProcessor

        self.processor = AutoProcessor.from_pretrained(
            model_dir, trust_remote_code=True, num_crops=policy.num_crops
        )
        self.tokenizer = self.processor.tokenizer
        self.max_text_tokens = max_text_tokens

    def prepare_image(self, image: Image.Image) -> PreparedImage:
        """Phi's processor needs the prompt too; the image is kept for ``build_batch``."""
        return PreparedImage({}, 0, source=image.convert("RGB"))

    def build_batch(self, rows: Sequence[Row], padding_side: str) -> dict[str, Any]:
        ids: list[list[int]] = []
        pixel_values, image_sizes = [], []
        for row in rows:
            if row.image is None:
                out = self.processor(row.prompt, None, return_tensors="pt")
                row_ids = out["input_ids"][0].tolist()
                limit = self.max_text_tokens
                ids.append(row_ids if limit is None else row_ids[:limit])
            else:
                out = self.processor(row.prompt, [row.image.source], return_tensors="pt")
                ids.append(out["input_ids"][0].tolist())
                pixel_values.append(out["pixel_values"])
                image_sizes.append(out["image_sizes"])
        input_ids, mask = pad_ids(ids, pad_id_of(self.tokenizer), padding_side)
        batch: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask}
        if pixel_values:
            batch["pixel_values"] = pad_patches(pixel_values)
            batch["image_sizes"] = torch.cat(image_sizes)
        return batch
