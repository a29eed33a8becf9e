"""Tiny random VLM2Vec-shaped checkpoints, built offline in a second, for tests and benches.

Each builder trains a small byte-level BPE tokenizer with ``tokenizers``, builds a random model
of the real transformers class (2 layers, hidden 64), and ``save_pretrained``s both plus the
image processor config, so loading goes through exactly the code users run on real weights.
"""

from __future__ import annotations

from pathlib import Path

import torch

HIDDEN = 64
_CORPUS = [
    "Represent the given image with the following question: what color is the car?",
    "Find me an everyday image that matches the given caption: a red car on a dirt road.",
    "Represent the given image for classification. dog cat bird plane ship truck",
    "Select the portion of the image that isolates the object labeled as the man on the left",
    "Given an image, find a similar everyday image with the described changes: make it blue",
    "Represent the given cropped image of the object. A photo of 0123456789 things.",
]


def build_tokenizer(special_tokens: list[str], *, pad: str, eos: str, bos: str | None = None):
    """A byte-level BPE tokenizer (vocab 300) wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=pad, eos_token=eos, bos_token=bos, padding_side="right"
    )


def _text_config(tokenizer, **extra) -> dict:
    return {
        "vocab_size": len(tokenizer) + 8,
        "hidden_size": HIDDEN,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        **extra,
    }


def build_tiny_qwen2_vl(path: Path, *, seed: int = 0, qwen2_5: bool = False) -> Path:
    """A random 2-layer Qwen2-VL (or Qwen2.5-VL) checkpoint with tokenizer and image processor."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    specials = ["<|endoftext|>", "<|image_pad|>", "<|vision_start|>", "<|vision_end|>"]
    specials.append("<|video_pad|>")
    tokenizer = build_tokenizer(specials, pad="<|endoftext|>", eos="<|endoftext|>")
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in specials}
    rope = {"type": "mrope", "mrope_section": [2, 3, 3]}
    vision = {"depth": 2, "num_heads": 2, "patch_size": 14, "spatial_merge_size": 2}
    if qwen2_5:
        vision.update(hidden_size=32, intermediate_size=64, out_hidden_size=HIDDEN)
        config_cls, model_cls = Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    else:
        vision.update(embed_dim=32, hidden_size=HIDDEN, mlp_ratio=2)
        config_cls, model_cls = Qwen2VLConfig, Qwen2VLForConditionalGeneration
    config = config_cls(
        text_config=_text_config(tokenizer, rope_scaling=rope),
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model_cls(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112).save_pretrained(path)
    return path


def build_tiny_llava_next(path: Path, *, seed: int = 0) -> Path:
    """A random 2-layer LLaVA-Next (Llama text, CLIP vision, 28 px crops) checkpoint."""
    from transformers import LlavaNextConfig, LlavaNextForConditionalGeneration
    from transformers.models.llava_next.image_processing_pil_llava_next import (
        LlavaNextImageProcessorPil,
    )

    tokenizer = build_tokenizer(["<s>", "</s>", "<image>", "<pad>"], pad="<pad>", eos="</s>")
    pinpoints = [[28, 56], [56, 28], [56, 56]]
    config = LlavaNextConfig(
        text_config=_text_config(tokenizer, model_type="llama"),
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
            "projection_dim": 32,
        },
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=pinpoints,
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    LlavaNextForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    LlavaNextImageProcessorPil(
        size={"shortest_edge": 28},
        crop_size={"height": 28, "width": 28},
        image_grid_pinpoints=pinpoints,
    ).save_pretrained(path)
    return path


def build_tiny_adapter(base: Path, path: Path, *, use_dora: bool, seed: int = 1) -> Path:
    """A PEFT LoRA/DoRA adapter on the language model of ``base``, with random (non-zero) B.

    ``base_model_name_or_path`` records ``base``, as the released VLM2Vec adapters record theirs.
    """
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig

    model_type = AutoConfig.from_pretrained(base).model_type
    cls_name = {
        "qwen2_vl": "Qwen2VLForConditionalGeneration",
        "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
        "llava_next": "LlavaNextForConditionalGeneration",
    }[model_type]
    model = getattr(transformers, cls_name).from_pretrained(base)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        use_dora=use_dora,
        target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|up_proj|down_proj)",
    )
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name or "lora_A" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    peft_model.save_pretrained(path)
    return path


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "build/tiny-qwen2vl")
    print(build_tiny_qwen2_vl(out))
