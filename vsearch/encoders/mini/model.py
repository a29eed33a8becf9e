"""The mini VLM: visual tokens in all-MiniLM-L6-v2's input space, one pooled vector out.

A sequence is ``[CLS] instruction [visual tokens] [label token] top label names text [SEP]``
(any part may be absent): the feature-map cells are projected into visual tokens, the
label-bridge vector into one soft label token, and the ImageNet head's top class names are
plain words. The transformer (LoRA-adapted) reads it all; its mean-pooled output is added to the
label-bridge vector, so what the classifier knows about photographs is kept, not relearned from
clip art. Text-only inputs never come here: they are the sentence model's own embeddings.
With ``bridge_bare_images`` (the shipped recipe) a bare image, one filed away as a document with
nothing asked of it, is its label-bridge vector too: the transformer reads only the images that
come with a task, and queries learn to meet documents in the two frozen towers' space.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vsearch.encoders.instructions import TASKS
from vsearch.encoders.mini.vision import FEATURE_DIM, ImageEvidence

HIDDEN = 384
#: The instructions that only file an image away as a document (MMEB's target instructions).
DOCUMENT_IMAGE_INSTRUCTIONS = frozenset(t.target for t in TASKS.values() if t.target)
#: Modules of a BERT layer that LoRA adapts (all its linear maps).
LORA_TARGETS = [
    "query",
    "key",
    "value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
]


@dataclass(frozen=True)
class MiniConfig:
    """The architecture and its training-time regularisers (saved beside the weights)."""

    grid: int = 2
    #: False: no visual tokens at all; the transformer reads the label token and words only.
    visual: bool = True
    top_labels: int = 3
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    fusion_weight: float = 1.0
    #: Training only: chance that an image's visual tokens, or its label words, are hidden.
    drop_visual: float = 0.2
    drop_labels: float = 0.1
    #: Training only: weight of the pull of an image's learned vector towards its label-bridge one.
    distill_weight: float = 0.0
    #: Training only: the loss sees the fused vector (True) or the learned one alone (False:
    #: late fusion, label-bridge's vector is added only at inference).
    fuse_in_training: bool = True
    #: True: an image with nothing asked of it (see ``is_bare_image``) is its label-bridge
    #: vector, in training and inference; the transformer reads only images that come with a
    #: task (a question, a phrase, a caption to find). Clip art cannot teach what photographs
    #: look like, and a bare photo is where the learned vector cost photo search.
    bridge_bare_images: bool = False

    @property
    def visual_tokens(self) -> int:
        return 1 + self.grid * self.grid if self.visual else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MiniConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown mini config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class ImageInput:
    """One image-bearing sequence: the instruction, the text after the image, the evidence row."""

    instruction: str | None
    text: str | None
    label_words: str


class MiniModel(nn.Module):
    """Projector + soft label token + LoRA-adapted MiniLM; ``forward`` -> ``(n, 384)`` unit rows."""

    def __init__(self, bert: nn.Module, tokenizer: Any, config: MiniConfig) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        for p in bert.parameters():
            p.requires_grad_(False)
        self.bert = bert
        if config.lora_r:
            from peft import LoraConfig, get_peft_model

            lora = LoraConfig(
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=config.lora_dropout,
                target_modules=LORA_TARGETS,
            )
            self.bert = get_peft_model(bert, lora)
        if config.visual_tokens:
            self.projector = nn.Sequential(
                nn.LayerNorm(FEATURE_DIM), nn.Linear(FEATURE_DIM, HIDDEN)
            )
            self.cell_embedding = nn.Parameter(torch.zeros(config.visual_tokens, HIDDEN))
            nn.init.normal_(self.cell_embedding, std=0.02)
        self.label_token = nn.Linear(HIDDEN, HIDDEN)

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """The trained tensors only (projector, label token, LoRA): what ships."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        return {n: t for n, t in self.state_dict().items() if n in names}

    def merge_adapter(self) -> None:
        """Fold LoRA into the transformer's weights for inference (same vectors, faster)."""
        if self.config.lora_r:
            self.bert = self.bert.merge_and_unload()

    def forward(
        self, inputs: Sequence[ImageInput], evidence: ImageEvidence, bridge: torch.Tensor
    ) -> torch.Tensor:
        """Embed image-bearing inputs: the learned vector fused with the label-bridge one.

        Args:
            inputs: one per image, in evidence order.
            evidence: the CNN's cells and probabilities for those images.
            bridge: ``(n, 384)`` unit label-bridge vectors of those images.
        """
        return self.route(
            inputs, evidence, bridge, lambda i, e, b: self.fuse(self.learned(i, e, b), b)
        )

    def route(
        self,
        inputs: Sequence[ImageInput],
        evidence: ImageEvidence,
        bridge: torch.Tensor,
        read: Callable[[list[ImageInput], ImageEvidence, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """``read`` the inputs the transformer reads; the others are their label-bridge vectors.

        Without ``bridge_bare_images`` every input is read. The result is built out of place,
        so gradients flow to the rows that were read.
        """
        bare_by_bridge = self.config.bridge_bare_images
        rows = [i for i, inp in enumerate(inputs) if not (bare_by_bridge and is_bare_image(inp))]
        if len(rows) == len(inputs):
            return read(list(inputs), evidence, bridge)
        if not rows:
            return bridge
        vectors = read([inputs[i] for i in rows], evidence.select(rows), bridge[rows])
        index = torch.tensor(rows, device=bridge.device)
        return bridge.to(vectors.dtype).index_copy(0, index, vectors)

    def fuse(self, learned: torch.Tensor, bridge: torch.Tensor) -> torch.Tensor:
        return F.normalize(learned + self.config.fusion_weight * bridge, dim=-1)

    def learned(
        self, inputs: Sequence[ImageInput], evidence: ImageEvidence, bridge: torch.Tensor
    ) -> torch.Tensor:
        """The transformer's own unit vectors, before the label-bridge vector is added."""
        device = evidence.cells.device
        ids, hidden_mask, visual_at, label_at = self._token_layout(inputs)
        ids, hidden_mask = ids.to(device), hidden_mask.to(device)
        embeds = self.bert.get_input_embeddings()(ids)
        if self.config.visual_tokens:
            cells = evidence.cells[:, : self.config.visual_tokens]  # the global cell comes first
            visual = self.projector(cells) + self.cell_embedding
            embeds = embeds.index_put(
                (visual_at[0].to(device), visual_at[1].to(device)),
                visual.reshape(-1, HIDDEN).to(embeds.dtype),
            )
        label = self.label_token(bridge)
        embeds = embeds.index_put(
            (torch.arange(len(inputs), device=device), label_at.to(device)), label.to(embeds.dtype)
        )
        out = self.bert(inputs_embeds=embeds, attention_mask=hidden_mask)
        out = getattr(out, "last_hidden_state", out)  # transformers' BertModel, or BertEncoder
        weights = hidden_mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled.float(), dim=-1)

    def _token_layout(
        self, inputs: Sequence[ImageInput]
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Token ids (placeholders where vectors go), the attention mask and those positions.

        In training, an image's visual tokens or label words may be masked out (``drop_*``) so
        the model cannot lean on the drawing style its visual tokens carry.
        """
        tok = self.tokenizer
        placeholder = tok.mask_token_id
        n_visual = self.config.visual_tokens
        rows, masks, label_at, visual_at = [], [], [], []
        for inp in inputs:
            instruction = _ids(tok, inp.instruction)
            labels = _ids(tok, inp.label_words)
            text = _ids(tok, inp.text)
            row = [tok.cls_token_id, *instruction]
            visual_start = len(row)
            visual_at.append(visual_start)
            row += [placeholder] * n_visual
            label_at.append(len(row))
            row += [*[placeholder, *labels, *text][: 254 - len(row)], tok.sep_token_id]
            mask = [1] * len(row)
            if n_visual and self.training and random.random() < self.config.drop_visual:
                mask[visual_start : visual_start + n_visual] = [0] * n_visual
            if self.training and labels and random.random() < self.config.drop_labels:
                start = label_at[-1] + 1
                mask[start : start + len(labels)] = [0] * len(labels)
            rows.append(row)
            masks.append(mask)
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        hidden_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (row, mask) in enumerate(zip(rows, masks, strict=True)):
            ids[i, : len(row)] = torch.tensor(row)
            hidden_mask[i, : len(mask)] = torch.tensor(mask)
        batch_index = torch.arange(len(inputs)).repeat_interleave(n_visual)
        positions = torch.tensor(
            [s + j for s in visual_at for j in range(n_visual)], dtype=torch.long
        )
        return ids, hidden_mask, (batch_index, positions), torch.tensor(label_at)


def is_bare_image(inp: ImageInput) -> bool:
    """An image with nothing asked of it: no text, and no instruction or a document one."""
    if inp.text and inp.text.strip():
        return False
    return inp.instruction is None or inp.instruction.strip() in DOCUMENT_IMAGE_INSTRUCTIONS


def _ids(tokenizer: Any, text: str | None) -> list[int]:
    if not text:
        return []
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def label_words(probs: torch.Tensor, class_names: Sequence[str], k: int) -> list[str]:
    """The top-``k`` ImageNet class names of every row, most probable first."""
    top = probs.topk(k, dim=-1).indices.tolist()
    return [", ".join(class_names[i] for i in row) for row in top]
