"""The VLM2Vec reference's embedding path, re-implemented for tests and benches.

Written from TIGER-AI-Lab/VLM2Vec, not from vsearch (nothing here imports vsearch):

- images: v1.0 ``src/dataset.py`` ``process_image(image, "high")`` resizes every image to
  1344x1344 (main: ``eval_collator.py`` with ``--resize_use_processor false``, then the
  processor's ``longest_edge = 1280 * 28 * 28``);
- text: the MMEB string as it is, ``<|image_1|>`` replaced by the backbone's image token,
  which the processor expands to one token per visual token (v1.0 ``src/model_utils.py``);
  each row is processed alone, then ``tokenizer.pad`` pads the batch;
- positions (Qwen2-VL / Qwen2.5-VL): the vendored ``get_rope_index`` gives an image grid
  positions only after ``<|vision_start|>``, which MMEB strings never have, so every real
  token gets its 1-D index among the row's real tokens (3 equal rows), padding keeps 1;
  LLaVA-Next passes no positions (the model counts 0..L-1);
- pooling (``src/model.py`` ``_pooling``): ``hidden_states[-1]`` at ``[:, -1]`` when the last
  column is all real tokens (left padding), else at ``attention_mask.sum(1) - 1``; L2 norm.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

REFERENCE_SIDE = 1344
MAIN_MAX_PIXELS = 1280 * 28 * 28
IMAGE_TOKENS = {"qwen2_vl": "<|image_pad|>", "qwen2_5_vl": "<|image_pad|>", "llava_next": "<image>"}
MODEL_CLASSES = {
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "llava_next": "LlavaNextForConditionalGeneration",
}

#: One mixed batch in every MMEB string shape: image + question, text query, image target,
#: bare label, the ``"<|image_1|> Represent..."`` form with a space, VisDial's double newline.
MMEB_ROWS = [
    ("<|image_1|>\nRepresent the given image with the following question: What is it?\n", 0),
    ("Find me an everyday image that matches the given caption: a red car on a road.\n", None),
    ("<|image_1|>\nRepresent the given image.\n", 1),
    ("dog", None),
    ("<|image_1|> Represent the given image for classification.", 2),
    (
        "Represent the given dialogue about an image, which is used for image retrieval: "
        "Q:is it red\nA:yes\n\n",
        None,
    ),
]


def model_type(model_dir: Path) -> str:
    return json.loads((model_dir / "config.json").read_text())["model_type"]


def load_model(model_dir: Path) -> torch.nn.Module:
    import transformers

    cls = getattr(transformers, MODEL_CLASSES[model_type(model_dir)])
    return cls.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").eval()


def sharpen_attention(source: Path, dest: Path, factor: float = 4.0) -> Path:
    """A copy of a tiny checkpoint whose language-model attention depends strongly on
    positions: q and k projections scaled by ``factor`` (logits by ``factor**2``)."""
    model = load_model(source)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "language_model" in name and any(p in name for p in ("q_proj", "k_proj")):
                param.mul_(factor)
    model.save_pretrained(dest)
    for extra in source.iterdir():
        if (
            extra.is_file()
            and not extra.name.endswith(".safetensors")
            and extra.name != "config.json"
        ):
            shutil.copy2(extra, dest / extra.name)
    return dest


def squash(image: Image.Image) -> Image.Image:
    return image.resize((REFERENCE_SIDE, REFERENCE_SIDE))


def reference_embed(
    model_dir: Path,
    rows: Sequence[tuple[str, Image.Image | None]],
    *,
    padding_side: str,
    capped: bool = False,
    model: torch.nn.Module | None = None,
) -> torch.Tensor:
    """``(n, d)`` float32 unit vectors of MMEB-format ``(text, image)`` rows, as the reference.

    Args:
        capped: main's eval of the v1 checkpoints (1280-token cap) instead of v1.0's.
    """
    from transformers import AutoTokenizer

    kind = model_type(model_dir)
    token = IMAGE_TOKENS[kind]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = [text.replace("<|image_1|>", token) for text, _ in rows]
    images = [None if image is None else squash(image.convert("RGB")) for _, image in rows]
    if kind == "llava_next":
        ids, extra = _llava_rows(model_dir, tokenizer, texts, images)
    else:
        ids, extra = _qwen_rows(model_dir, tokenizer, texts, images, capped)
    tokenizer.padding_side = padding_side
    padded = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
    input_ids, mask = padded["input_ids"], padded["attention_mask"]
    kwargs = {"input_ids": input_ids, "attention_mask": mask, **extra}
    if kind != "llava_next":
        kwargs["position_ids"] = _rope_index_without_vision_start(mask)
    model = model or load_model(model_dir)
    with torch.no_grad():
        hidden = model(**kwargs, output_hidden_states=True, use_cache=False).hidden_states[-1]
    return torch.nn.functional.normalize(_pool(hidden, mask), p=2, dim=-1)


def _qwen_rows(model_dir, tokenizer, texts, images, capped):
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    processor = Qwen2VLImageProcessorPil.from_pretrained(model_dir)
    if capped:
        processor = Qwen2VLImageProcessorPil.from_pretrained(
            model_dir, size={"shortest_edge": 4 * 28 * 28, "longest_edge": MAIN_MAX_PIXELS}
        )
    ids, pixel_values, grids = [], [], []
    for text, image in zip(texts, images, strict=True):
        if image is not None:
            out = processor(images=[image], return_tensors="pt")
            grid = out["image_grid_thw"][0]
            count = int(grid.prod()) // processor.merge_size**2
            text = text.replace("<|image_pad|>", "<|placeholder|>" * count, 1)
            text = text.replace("<|placeholder|>", "<|image_pad|>")
            pixel_values.append(out["pixel_values"])
            grids.append(out["image_grid_thw"])
        ids.append(tokenizer(text).input_ids)
    extra = {}
    if grids:
        extra = {"pixel_values": torch.cat(pixel_values), "image_grid_thw": torch.cat(grids)}
    return ids, extra


def _llava_rows(model_dir, tokenizer, texts, images):
    from transformers import AutoConfig, LlavaNextProcessor
    from transformers.models.llava_next.image_processing_pil_llava_next import (
        LlavaNextImageProcessorPil,
    )

    config = AutoConfig.from_pretrained(model_dir)
    processor = LlavaNextProcessor(
        image_processor=LlavaNextImageProcessorPil.from_pretrained(model_dir),
        tokenizer=tokenizer,
        patch_size=config.vision_config.patch_size,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
        num_additional_image_tokens=1,  # CLIP's CLS token, as llava-v1.6's processor_config
    )
    ids, pixel_values, sizes = [], [], []
    for text, image in zip(texts, images, strict=True):
        if image is None:
            ids.append(tokenizer(text).input_ids)
            continue
        out = processor(images=image, text=text, return_tensors="pt")
        ids.append(out["input_ids"][0].tolist())
        pixel_values.append(out["pixel_values"])
        sizes.append(out["image_sizes"])
    extra = {}
    if sizes:
        extra = {"pixel_values": torch.cat(pixel_values), "image_sizes": torch.cat(sizes)}
    return ids, extra


def _rope_index_without_vision_start(mask: torch.Tensor) -> torch.Tensor:
    """``(3, n, L)``: the vendored ``get_rope_index`` when no image follows a vision start."""
    positions = torch.ones((3, *mask.shape), dtype=torch.long)
    for i, row in enumerate(mask):
        real = row == 1
        positions[:, i, real] = torch.arange(int(real.sum()))
    return positions


def _pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if int(mask[:, -1].sum()) == mask.shape[0]:
        return hidden[:, -1]
    return hidden[torch.arange(hidden.shape[0]), mask.sum(dim=1) - 1]
