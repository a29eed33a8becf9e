"""The mini encoder: the default, a small VLM2Vec-style model that runs offline on a CPU."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vsearch.encoders.base import (
    Encoder,
    EncoderIdentity,
    Item,
    check_float32_options,
    l2_normalize,
)
from vsearch.encoders.label_bridge import LabelBridgeEncoder, Prepared
from vsearch.encoders.mini.model import MiniConfig, MiniModel, is_bare_image
from vsearch.encoders.mini.parts import Evidence, inference_model
from vsearch.encoders.mini.weights import is_mini_dir, read_weights, shipped_dir
from vsearch.errors import ModelNotFound


class MiniEncoder(Encoder):
    """EfficientNet-Lite0 visual tokens read with an instruction by a LoRA-tuned MiniLM.

    An image (with or without text) is embedded from ``[CLS] instruction [visual tokens]
    [label token] top labels text [SEP]``, fused with its label-bridge vector. A text alone is
    embedded by all-MiniLM-L6-v2 exactly as sentence-transformers does, without the
    instruction: text search is the sentence model's, and images were trained to meet it. With
    ``bridge_bare_images`` a bare image (no text; no instruction, or a document one such as
    "Represent the given image.") is its label-bridge vector: what an index stores.
    """

    max_image_side = 448
    #: Measured on real photo pairs (README): the phrase alone grounds better than the
    #: clip-art-trained in-context query.
    grounds_in_context = False

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        **unknown: object,
    ) -> None:
        check_float32_options("mini", dtype, unknown)
        folder = Path(weights).expanduser() if weights is not None else shipped_dir()
        if not is_mini_dir(folder):
            raise ModelNotFound(f"{folder} holds no mini model (model.safetensors + mini.json)")
        config, tensors, digest = read_weights(folder)
        bridge = LabelBridgeEncoder(device=device, batch_size=batch_size)
        self._attach(bridge, config, digest[:12])
        self._tensors: dict[str, torch.Tensor] | None = tensors
        self._weights_digest = digest

    @classmethod
    def around(cls, bridge: LabelBridgeEncoder, model: MiniModel) -> MiniEncoder:
        """An encoder view of a model in training (the trainer's eval hook scores it)."""
        encoder = cls.__new__(cls)
        encoder._attach(bridge, model.config, f"in-training-{id(model):x}")
        encoder._model = model.to(encoder.device).eval()
        return encoder

    def _attach(self, bridge: LabelBridgeEncoder, config: MiniConfig, revision: str) -> None:
        self.bridge = bridge
        self.device = bridge.device
        self.batch_size = bridge.batch_size
        self.evidence = Evidence(bridge, config)
        self._config = config
        self._model: MiniModel | None = None
        self._loading = threading.Lock()
        self._identity = EncoderIdentity(
            model_id="mini",
            revision=f"{revision}+{bridge.identity.revision}",
            dim=bridge.dim,
            pooling="mean + label-bridge",
        )

    @property
    def identity(self) -> EncoderIdentity:
        return self._identity

    @property
    def model(self) -> MiniModel:
        """The trained transformer, LoRA merged, loaded on the first image with a task: a text
        alone and a bare image never need it (see ``parts.inference_model``)."""
        with self._loading:
            if self._model is None:
                model = inference_model(self._config, self._tensors, self._weights_digest)
                self._model = model.to(self.device)
                self._tensors = None
            return self._model

    def prepare(self, item: Item) -> Prepared:
        return self.bridge.prepare(item)

    @torch.inference_mode()
    def embed_batch(self, prepared: Sequence[Prepared], instruction: str | None) -> np.ndarray:
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        with_image = [i for i, p in enumerate(prepared) if p.pixels is not None]
        text_only = [i for i, p in enumerate(prepared) if p.pixels is None]
        if with_image:
            pixels = torch.stack([prepared[i].pixels for i in with_image])
            evidence = self.evidence.of_pixels(pixels)
            inputs = self.evidence.inputs(
                evidence, [instruction] * len(with_image), [prepared[i].text for i in with_image]
            )
            bridge = self.evidence.bridge_vectors(evidence)
            if self._config.bridge_bare_images and all(is_bare_image(i) for i in inputs):
                vectors = bridge  # what the model's route gives them, without building it
            else:
                vectors = self.model(inputs, evidence, bridge)
            out[with_image] = vectors.cpu().numpy()
        if text_only:
            out[text_only] = self.bridge.text_model.embed([prepared[i].text for i in text_only])
        return l2_normalize(out)
