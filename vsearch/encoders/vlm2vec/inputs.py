"""Model inputs per backbone: image tensors per item, then token ids, padding and masks per batch.

An item's image is processed once, in ``prepare_image`` (ingest runs it in worker threads);
``build_batch`` tokenises the prompts, expands each row's single image token to the number of
visual tokens its image yields, pads, and stacks. Rows are tokenised one at a time and padded
here, so a row's tokens never depend on the rest of its batch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

from vsearch.encoders.vlm2vec.images import ImagePolicy
from vsearch.errors import UnsupportedInput

MAX_QWEN_ASPECT = 200
#: Rotary positions of Qwen-VL inputs: see ``QwenVLInputs``.
POSITIONS = ("reference", "mrope")


@dataclass
class PreparedImage:
    """One image, processed: the tensors the vision tower reads and its visual-token count.

    ``source`` keeps the image itself for backbones whose processor must see image and text
    together (Phi-3.5-V); the others leave it None.
    """

    tensors: dict[str, torch.Tensor]
    num_tokens: int
    source: Image.Image | None = None


@dataclass
class Row:
    """One prompt of a batch with its image (or None)."""

    prompt: str
    image: PreparedImage | None = None


class InputBuilder(Protocol):
    """What the encoder needs from a backbone's input code."""

    image_token: str
    tokenizer: Any
    #: True when image rows and text-only rows cannot share a forward pass.
    separate_modalities: bool

    def prepare_image(self, image: Image.Image) -> PreparedImage: ...

    def build_batch(self, rows: Sequence[Row], padding_side: str) -> dict[str, Any]:
        """Forward-pass keyword arguments (``input_ids``, ``attention_mask``, image tensors)."""
        ...


def expand_image_token(prompt: str, token: str, count: int) -> str:
    """The single ``token`` in ``prompt`` repeated ``count`` times (one per visual token)."""
    if prompt.count(token) != 1:
        raise ValueError(f"an image prompt needs exactly one {token}; got {prompt!r}")
    return prompt.replace(token, token * count)


def pad_ids(
    ids: Sequence[Sequence[int]], pad_id: int, padding_side: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token id lists to one length.

    Returns:
        ``input_ids`` ``(n, L)`` int64 and ``attention_mask`` ``(n, L)`` int64 (1 = real token).
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    length = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), length), dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(length - len(row), length) if padding_side == "left" else slice(0, len(row))
        input_ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return input_ids, mask


def pad_id_of(tokenizer: Any) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    if tokenizer.eos_token_id is not None:
        return int(tokenizer.eos_token_id)
    return 0


def row_ids(
    rows: Sequence[Row], tokenizer: Any, image_token: str, max_text_tokens: int | None
) -> list[list[int]]:
    """Token ids of each row, tokenised alone, image token expanded.

    Text-only rows are cut to ``max_text_tokens`` as the reference does; image rows never are
    (cutting visual tokens would break the model's image/token count check).
    """
    ids = []
    for row in rows:
        if row.image is None:
            row_ids = tokenizer(row.prompt).input_ids
            ids.append(row_ids if max_text_tokens is None else row_ids[:max_text_tokens])
        else:
            text = expand_image_token(row.prompt, image_token, row.image.num_tokens)
            ids.append(tokenizer(text).input_ids)
    return ids


def token_batch(
    rows: Sequence[Row],
    tokenizer: Any,
    image_token: str,
    max_text_tokens: int | None,
    padding_side: str,
) -> tuple[dict[str, Any], list[PreparedImage]]:
    """``input_ids`` and ``attention_mask`` of the rows, and their images in row order."""
    ids = row_ids(rows, tokenizer, image_token, max_text_tokens)
    input_ids, mask = pad_ids(ids, pad_id_of(tokenizer), padding_side)
    images = [row.image for row in rows if row.image is not None]
    return {"input_ids": input_ids, "attention_mask": mask}, images


class QwenVLInputs:
    """Qwen2-VL and Qwen2.5-VL, built from the image processor + tokenizer (no torchvision).

    Visual tokens per image = ``grid_t * grid_h * grid_w / merge_size**2``. No
    ``<|vision_start|>`` markers are added: the VLM2Vec checkpoints were trained on the bare
    ``<|image_pad|>`` run. Positions (``positions``):

    - ``reference`` (default): every token, visual ones included, gets the plain 1-D position
      of its place among the row's real tokens. The reference's vendored ``get_rope_index``
      only gives an image its 2-D grid positions when it follows ``<|vision_start|>``; MMEB
      prompts have none, so the released checkpoints were trained and scored on 1-D positions.
    - ``mrope``: transformers' multimodal rotary positions (``mm_token_type_ids``: 2-D grid
      positions for the image, the text after it shifted), for a checkpoint trained with them.
    """

    image_token = "<|image_pad|>"
    separate_modalities = False

    def __init__(
        self,
        model_dir: Path,
        tokenizer: Any,
        policy: ImagePolicy,
        max_text_tokens: int | None,
        positions: str = "reference",
    ) -> None:
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}; valid: {', '.join(POSITIONS)}")
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
            Qwen2VLImageProcessorPil,
        )

        if (model_dir / "preprocessor_config.json").is_file():
            processor = Qwen2VLImageProcessorPil.from_pretrained(model_dir)
        else:
            processor = Qwen2VLImageProcessorPil()
        own_min, own_max = processor.size.shortest_edge, processor.size.longest_edge
        sizes = {
            "min_pixels": policy.min_pixels or own_min,
            "max_pixels": policy.max_pixels or min(own_max, policy.cap_pixels or own_max),
        }
        if sizes["min_pixels"] > sizes["max_pixels"]:
            raise ValueError(f"min_pixels {sizes['min_pixels']} > max_pixels {sizes['max_pixels']}")
        settings = processor.to_dict()
        settings.pop("image_processor_type", None)
        self.image_processor = Qwen2VLImageProcessorPil(**{**settings, "size": None, **sizes})
        self.tokenizer = tokenizer
        self.max_text_tokens = max_text_tokens
        self.token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.merge = int(self.image_processor.merge_size)
        self.policy = policy
        self.positions = positions

    def prepare_image(self, image: Image.Image) -> PreparedImage:
        """Squash (reference policies), resize within the pixel bounds, cut 14 px patches.

        Raises:
            UnsupportedInput: an aspect ratio above 200:1, which Qwen-VL cannot tile (only when
                the policy keeps the aspect ratio).
        """
        width, height = image.size
        keeps_shape = self.policy.square_side is None
        if keeps_shape and max(width, height) > MAX_QWEN_ASPECT * min(width, height):
            raise UnsupportedInput(
                f"image of {width}x{height} px is too elongated for Qwen-VL (aspect ratio at "
                f"most {MAX_QWEN_ASPECT}:1); crop it first"
            )
        image = self.policy.squash(image.convert("RGB"))
        out = self.image_processor(images=[image], return_tensors="pt")
        grid = out["image_grid_thw"]
        tensors = {"pixel_values": out["pixel_values"], "image_grid_thw": grid}
        return PreparedImage(tensors, int(grid.prod()) // self.merge**2)

    def build_batch(self, rows: Sequence[Row], padding_side: str) -> dict[str, Any]:
        batch, images = token_batch(
            rows, self.tokenizer, self.image_token, self.max_text_tokens, padding_side
        )
        if images:
            batch["pixel_values"] = torch.cat([im.tensors["pixel_values"] for im in images])
            batch["image_grid_thw"] = torch.cat([im.tensors["image_grid_thw"] for im in images])
            if self.positions == "mrope":
                batch["mm_token_type_ids"] = (batch["input_ids"] == self.token_id).long()
        if self.positions == "reference":
            batch["position_ids"] = plain_positions(batch["attention_mask"])
        return batch


def plain_positions(attention_mask: torch.Tensor) -> torch.Tensor:
    """``(n, L)`` 1-D positions counted over each row's real tokens (padding: 1, as the
    reference's ``get_rope_index``; padding is masked out, so its value never matters)."""
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 1)


class LlavaNextInputs:
    """LLaVA-Next (anyres): the processor with the PIL image processor (no torchvision).

    A row's image-token count comes from the processor itself (it knows the anyres grid and the
    unpadding), measured once per image in ``prepare_image``.
    """

    image_token = "<image>"
    separate_modalities = False

    def __init__(
        self,
        model_dir: Path,
        tokenizer: Any,
        policy: ImagePolicy,
        max_text_tokens: int | None,
        model_config: Any,
    ) -> None:
        from transformers import LlavaNextProcessor
        from transformers.models.llava_next.image_processing_pil_llava_next import (
            LlavaNextImageProcessorPil,
        )

        pinpoints = grids_within(model_config.image_grid_pinpoints, policy.max_side)
        image_processor = LlavaNextImageProcessorPil.from_pretrained(
            model_dir, image_grid_pinpoints=pinpoints
        )
        self.processor = LlavaNextProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            **llava_processor_settings(model_dir, model_config),
        )
        self.pinpoints = pinpoints
        self.policy = policy
        self.tokenizer = tokenizer
        self.max_text_tokens = max_text_tokens
        self.token_id = tokenizer.convert_tokens_to_ids(self.image_token)

    def prepare_image(self, image: Image.Image) -> PreparedImage:
        image = self.policy.squash(image.convert("RGB"))
        out = self.processor(images=[image], text=[self.image_token], return_tensors="pt")
        count = sum(1 for t in out["input_ids"][0] if t == self.token_id)
        tensors = {
            "pixel_values": torch.as_tensor(out["pixel_values"]),
            "image_sizes": torch.as_tensor(out["image_sizes"]),
        }
        return PreparedImage(tensors, count)

    def build_batch(self, rows: Sequence[Row], padding_side: str) -> dict[str, Any]:
        batch, images = token_batch(
            rows, self.tokenizer, self.image_token, self.max_text_tokens, padding_side
        )
        if images:
            batch["pixel_values"] = pad_patches([im.tensors["pixel_values"] for im in images])
            batch["image_sizes"] = torch.cat([im.tensors["image_sizes"] for im in images])
        return batch


def llava_processor_settings(model_dir: Path, model_config: Any) -> dict[str, Any]:
    """Patch size, feature strategy and extra tokens: ``processor_config.json`` when it has them.

    Older LLaVA-Next checkpoints ship no processor config; the values then come from the model
    config, and the extra token count from the vision tower (CLIP prepends a CLS token, SigLIP
    does not). These three decide how many ``<image>`` tokens an image expands to.
    """
    vision = model_config.vision_config
    settings = {
        "patch_size": vision.patch_size,
        "vision_feature_select_strategy": model_config.vision_feature_select_strategy,
        "num_additional_image_tokens": 1 if vision.model_type == "clip_vision_model" else 0,
    }
    path = model_dir / "processor_config.json"
    if path.is_file():
        saved = json.loads(path.read_text())
        settings.update({k: saved[k] for k in settings if saved.get(k) is not None})
    return settings


def grids_within(pinpoints: list[list[int]], max_side: int | None) -> list[list[int]]:
    """The anyres grids whose longer side is at most ``max_side`` (all of them for None)."""
    if max_side is None:
        return [list(p) for p in pinpoints]
    kept = [list(p) for p in pinpoints if max(p) <= max_side]
    if not kept:
        smallest = min(max(p) for p in pinpoints)
        raise ValueError(f"max_side {max_side} excludes every grid; the smallest is {smallest}")
    return kept


def pad_patches(pixel_values: Sequence[torch.Tensor]) -> torch.Tensor:
    """Stack ``(1, P_i, 3, H, W)`` crops of several images into ``(n, max P, 3, H, W)``.

    The zero crops are ignored by the model: it reads each image's real crop count from
    ``image_sizes``.
    """
    most = max(pv.shape[1] for pv in pixel_values)
    padded = [
        torch.nn.functional.pad(pv, (0, 0, 0, 0, 0, 0, 0, most - pv.shape[1]))
        for pv in pixel_values
    ]
    return torch.cat(padded)
