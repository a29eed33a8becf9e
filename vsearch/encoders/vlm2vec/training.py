"""The VLM2Vec backend in training form: PEFT LoRA/DoRA (or full) weights, embeddings with a graph.

What it saves loads back with ``load_encoder``: an adapter folder whose ``adapter_config.json``
names the base model's absolute path, or a full model folder with its tokenizer and processor.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from vsearch.encoders.base import Item
from vsearch.encoders.vlm2vec.encoder import VLM2VecEncoder
from vsearch.encoders.vlm2vec.options import VLM2VecOptions
from vsearch.training.config import ModelConfig

#: Adapted by default: the language model's attention and MLP projections, not the vision tower.
DEFAULT_TARGETS = {
    "qwen2_vl": r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
    "qwen2_5_vl": r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
    "llava_next": r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
    "phi3_v": r".*\.(qkv_proj|o_proj|gate_up_proj|down_proj)",
}


class TrainableVLM2Vec:
    """A VLM2Vec checkpoint with trainable adapters (``Encoder.build_for_training``'s result).

    It does not merge adapters, cache inputs or pick a learning rate: the trainer does the rest.
    """

    #: The trainer hands it MMEB texts whole, ``<|image_1|>`` included (as ``vsearch eval``).
    reads_verbatim = True

    def __init__(self, config: ModelConfig, device: str) -> None:
        self.config = config
        # [model.options] may set the image policy, e.g. image_resolution = "reference" to
        # train on 1344x1344 images as the reference trainer does.
        chosen = {"dtype": "float32", "attn_implementation": "sdpa", **config.options}
        options = VLM2VecOptions.from_kwargs(**{**chosen, "device": device})
        self.encoder = VLM2VecEncoder(config.base, options)
        self.max_image_side = self.encoder.max_image_side
        if config.adapter != "full" and self.encoder.source.adapter_dir is not None:
            raise ValueError(
                f"{config.base} is an adapter; train a new adapter on its base model, "
                "or set [model] adapter = 'full'"
            )
        self.module = self._trainable_model()
        self.encoder.model = self.module

    def _trainable_model(self) -> torch.nn.Module:
        model = self.encoder.model
        config = self.config
        if config.adapter == "full":
            model.requires_grad_(True)
        else:
            from peft import LoraConfig, get_peft_model

            targets = list(config.target_modules) or DEFAULT_TARGETS[self.encoder.model_type]
            lora = LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=targets,
                use_dora=config.adapter == "dora",
                init_lora_weights=True,
            )
            model = get_peft_model(model, lora)
        for name, param in model.named_parameters():
            if any(part in name for part in config.extra_trainable):
                param.requires_grad_(True)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
            if hasattr(model, "enable_input_require_grads"):
                model.enable_input_require_grads()
        return model

    def embed(self, items: Sequence[Item]) -> torch.Tensor:
        """``(n, dim)`` float32 unit vectors with a graph; texts carry their own instruction."""
        enc = self.encoder
        rows = enc.verbatim_rows([enc.prepare(item) for item in items])
        groups = enc._groups(rows)
        reps = torch.cat([enc.forward_rows([rows[i] for i in group]) for group in groups])
        order = torch.tensor([i for group in groups for i in group], device=reps.device)
        return reps[torch.argsort(order)]

    def save(self, path: Path) -> None:
        """Write what ``load_encoder(path)`` loads: a PEFT adapter, or a full model folder."""
        path.mkdir(parents=True, exist_ok=True)
        base_dir = self.encoder.source.model_dir
        if self.config.adapter == "full":
            self.module.save_pretrained(path)
            for extra in base_dir.iterdir():
                if (
                    extra.is_file()
                    and not extra.name.endswith((".safetensors", ".bin"))
                    and extra.name != "config.json"
                ):
                    shutil.copy2(extra, path / extra.name)
            return
        self.module.peft_config["default"].base_model_name_or_path = str(base_dir)
        self.module.save_pretrained(path)


def build_for_training(config: ModelConfig, device: str) -> TrainableVLM2Vec:
    return TrainableVLM2Vec(config, device)
