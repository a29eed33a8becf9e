"""A BERT encoder on ``torch.nn.TransformerEncoder``, loading a Hugging Face BERT checkpoint.

Why not ``transformers.BertModel``: importing it costs about 3 s (it pulls in ``modeling_utils``,
``torch.distributed.tensor``, dynamo, ...), 0.1 s of which is BERT. A text query embeds a dozen
tokens in 20 ms, so that import was most of every cold query. BERT's layer is exactly torch's
post-norm ``TransformerEncoderLayer`` with GELU; this module only maps the checkpoint's weights
onto it. ``tests/encoders/test_bert.py`` checks it against ``BertModel`` on the shipped MiniLM.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import nn


class BertEncoder(nn.Module):
    """BERT's embeddings and encoder (no pooler); ``forward`` returns the last hidden states."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported BERT activation {config['hidden_act']!r}")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(
                f"unsupported position embeddings {config['position_embedding_type']!r}"
            )
        hidden, eps = config["hidden_size"], config["layer_norm_eps"]
        self.word_embeddings = nn.Embedding(config["vocab_size"], hidden)
        self.position_embeddings = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type_embeddings = nn.Embedding(config["type_vocab_size"], hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        layer = nn.TransformerEncoderLayer(
            hidden,
            config["num_attention_heads"],
            config["intermediate_size"],
            dropout=0.0,
            activation="gelu",
            layer_norm_eps=eps,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, config["num_hidden_layers"], enable_nested_tensor=False
        )

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> BertEncoder:
        """The model in ``folder`` (``config.json`` + ``model.safetensors``), in eval mode."""
        model = cls.of_config(folder)
        model.load_hf_state(load_file(Path(folder) / "model.safetensors"))
        return model.eval()

    @classmethod
    def of_config(cls, folder: str | Path) -> BertEncoder:
        """An untrained model of the architecture in ``folder/config.json``."""
        return cls(json.loads((Path(folder) / "config.json").read_text()))

    def load_hf_state(self, weights: dict[str, torch.Tensor]) -> None:
        """Load a ``BertModel`` state dict (its parameter names, ``bert.`` prefix or not)."""
        self.load_state_dict(_renamed(weights, self.encoder.num_layers))

    def get_input_embeddings(self) -> nn.Embedding:
        return self.word_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(batch, tokens, hidden)`` for ``input_ids`` ``(batch, tokens)``, or for their word
        embeddings ``inputs_embeds`` (token type 0 either way, as ``BertModel`` takes them)."""
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        positions = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device)
        embedded = (
            inputs_embeds
            + self.position_embeddings(positions)[None]
            + self.token_type_embeddings.weight[0]
        )
        if attention_mask is None:
            attention_mask = torch.ones(embedded.shape[:2], device=embedded.device)
        return self.encoder(self.embedding_norm(embedded), src_key_padding_mask=attention_mask == 0)


class WordPieces:
    """A BERT checkpoint's ``tokenizer.json`` through ``tokenizers``, answering the calls the
    mini model makes of a transformers tokenizer (``tok(text, add_special_tokens=False)`` and
    the special token ids)."""

    def __init__(self, folder: str | Path) -> None:
        self.tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        for name in ("cls", "sep", "pad", "mask"):
            setattr(self, f"{name}_token_id", self.tokenizer.token_to_id(f"[{name.upper()}]"))

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.tokenizer.encode(text, add_special_tokens=add_special_tokens).ids}


def _renamed(weights: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """A Hugging Face ``BertModel`` state dict under this module's parameter names."""
    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    out = {
        "word_embeddings.weight": weights["embeddings.word_embeddings.weight"],
        "position_embeddings.weight": weights["embeddings.position_embeddings.weight"],
        "token_type_embeddings.weight": weights["embeddings.token_type_embeddings.weight"],
        "embedding_norm.weight": weights["embeddings.LayerNorm.weight"],
        "embedding_norm.bias": weights["embeddings.LayerNorm.bias"],
    }
    renames = {
        "self_attn.out_proj": "attention.output.dense",
        "norm1": "attention.output.LayerNorm",
        "linear1": "intermediate.dense",
        "linear2": "output.dense",
        "norm2": "output.LayerNorm",
    }
    for i in range(layers):
        hf, ours = f"encoder.layer.{i}.", f"encoder.layers.{i}."
        for suffix in ("weight", "bias"):
            qkv = [
                weights[f"{hf}attention.self.{part}.{suffix}"] for part in ("query", "key", "value")
            ]
            out[f"{ours}self_attn.in_proj_{suffix}"] = torch.cat(qkv)
            for mine, theirs in renames.items():
                out[f"{ours}{mine}.{suffix}"] = weights[f"{hf}{theirs}.{suffix}"]
    return out
