"""The mini model's pieces, shared by the encoder and its training form."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from vsearch.encoders.label_bridge import LabelBridgeEncoder
from vsearch.encoders.mini.model import ImageInput, MiniConfig, MiniModel, label_words
from vsearch.encoders.mini.vision import ImageEvidence, image_evidence
from vsearch.encoders.quiet import quiet_loading
from vsearch.encoders.sentence import bundled_model_dir


def build_model(config: MiniConfig, tensors: dict[str, torch.Tensor] | None = None) -> MiniModel:
    """A MiniModel on a fresh copy of all-MiniLM-L6-v2; ``tensors`` are trained weights."""
    from transformers import AutoModel, AutoTokenizer

    path = str(bundled_model_dir())
    with quiet_loading():
        bert, tokenizer = AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)
    model = MiniModel(bert, tokenizer, config)
    if tensors is not None:
        expected = set(model.trainable_state())
        if set(tensors) != expected:
            missing = sorted(expected - set(tensors))[:3]
            extra = sorted(set(tensors) - expected)[:3]
            raise ValueError(
                f"mini weights do not match the architecture (missing {missing}, extra {extra})"
            )
        model.load_state_dict(tensors, strict=False)
    return model


class Evidence:
    """The frozen side: the label-bridge encoder's CNN, class names and label embeddings."""

    def __init__(self, bridge: LabelBridgeEncoder, config: MiniConfig) -> None:
        self.bridge = bridge
        self.config = config

    def of_pixels(self, pixels: torch.Tensor) -> ImageEvidence:
        pixels = pixels.to(self.bridge.device)
        return image_evidence(self.bridge.classifier, pixels, self.config.grid)

    def bridge_vectors(self, evidence: ImageEvidence) -> torch.Tensor:
        """``(n, 384)`` unit label-bridge vectors: class probabilities x label embeddings."""
        return F.normalize(evidence.probs @ self.bridge.label_embeddings, dim=-1)

    def inputs(
        self,
        evidence: ImageEvidence,
        instructions: Sequence[str | None],
        texts: Sequence[str | None],
    ) -> list[ImageInput]:
        words = label_words(evidence.probs, self.bridge.class_names, self.config.top_labels)
        return [
            ImageInput(instruction=i, text=t, label_words=w)
            for i, t, w in zip(instructions, texts, words, strict=True)
        ]
