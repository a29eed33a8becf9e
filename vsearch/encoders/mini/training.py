"""The mini model in training form, registered with the trainer as ``base = "mini"``.

The CNN and the sentence model are frozen, so each distinct image's evidence and each distinct
text's embedding is computed once and kept for the run: after the first epoch a step costs only
the small transformer pass that is being trained.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vsearch.encoders.base import Item
from vsearch.encoders.instructions import TASKS
from vsearch.encoders.label_bridge import LabelBridgeEncoder
from vsearch.encoders.mini.encoder import MiniEncoder
from vsearch.encoders.mini.model import ImageInput, MiniConfig
from vsearch.encoders.mini.parts import Evidence, build_model
from vsearch.encoders.mini.vision import ImageEvidence
from vsearch.encoders.mini.weights import write_weights
from vsearch.eval.data import split_instruction
from vsearch.training.config import ModelConfig
from vsearch.training.loop import resolve_device

#: Instructions a text-only query may open with; the mini text side embeds what follows.
TEXT_QUERY_INSTRUCTIONS = tuple(sorted({t.query for t in TASKS.values() if ":" in t.query}))


def text_content(text: str) -> str:
    """A text-only side without its leading query instruction (the text tower ignores them)."""
    text = text.strip()
    for instruction in TEXT_QUERY_INSTRUCTIONS:
        if text.startswith(instruction):
            return text[len(instruction) :].strip() or text
    return text


class TrainableMini:
    """Projector, label token and LoRA train; EfficientNet-Lite0 and MiniLM stay frozen."""

    max_image_side = 448

    def __init__(
        self,
        config: ModelConfig,
        device: str,
        *,
        bridge: LabelBridgeEncoder | None = None,
        image_cache: dict[str, ImageEvidence] | None = None,
    ) -> None:
        """``bridge`` and ``image_cache`` may be shared by runs in one process (ablations):
        the frozen side's evidence of an image does not change from one run to the next."""
        if config.adapter != "lora":
            raise ValueError(f"the mini model trains a LoRA adapter, not {config.adapter!r}")
        self.config = MiniConfig.from_dict(
            {
                "lora_r": config.lora_r,
                "lora_alpha": config.lora_alpha,
                "lora_dropout": config.lora_dropout,
                **config.options,
            }
        )
        self.device = resolve_device(device)
        self.bridge = bridge or LabelBridgeEncoder(device=str(self.device))
        self.evidence = Evidence(self.bridge, self.config)
        self.module = build_model(self.config).to(self.device)
        self._images = {} if image_cache is None else image_cache
        self._texts: dict[str, torch.Tensor] = {}
        self._distill: list[tuple[torch.Tensor, int]] = []

    def embed(self, items: Sequence[Item]) -> torch.Tensor:
        out: list[torch.Tensor | None] = [None] * len(items)
        with_image = [i for i, it in enumerate(items) if it.image is not None]
        text_only = [i for i, it in enumerate(items) if it.image is None]
        if with_image:
            evidence = self._image_evidence([items[i] for i in with_image])
            sides = [
                split_instruction(items[i].text or "", has_instruction=True) for i in with_image
            ]
            inputs = self.evidence.inputs(evidence, [s[0] for s in sides], [s[1] for s in sides])
            bridge = self.evidence.bridge_vectors(evidence)
            vectors = self.module.route(inputs, evidence, bridge, self._read)
            for row, i in enumerate(with_image):
                out[i] = vectors[row]
        if text_only:
            vectors = self._text_vectors([text_content(items[i].text or "") for i in text_only])
            for row, i in enumerate(text_only):
                out[i] = vectors[row]
        return torch.stack(out)  # type: ignore[arg-type]

    def _read(
        self, inputs: list[ImageInput], evidence: ImageEvidence, bridge: torch.Tensor
    ) -> torch.Tensor:
        """The vectors the loss sees for the images the transformer reads."""
        learned = self.module.learned(inputs, evidence, bridge)
        if self.config.distill_weight and torch.is_grad_enabled():
            pull = (1 - (learned * bridge).sum(-1)).sum() * self.config.distill_weight
            self._distill.append((pull, len(learned)))
        return self.module.fuse(learned, bridge) if self.config.fuse_in_training else learned

    def _image_evidence(self, images: Sequence[Item]) -> ImageEvidence:
        keys = [_image_key(it) for it in images]
        missing = [k for k in dict.fromkeys(keys) if k not in self._images]
        if missing:
            by_key = dict(zip(keys, images, strict=True))
            # the encoder's own preprocessing, so training sees the pixels inference will
            pixels = torch.stack([self.bridge.prepare(by_key[k]).pixels for k in missing])
            evidence = self.evidence.of_pixels(pixels)
            for row, key in enumerate(missing):
                self._images[key] = evidence.select([row])
        return ImageEvidence.cat([self._images[k] for k in keys])

    def _text_vectors(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if missing:
            vectors = self.bridge.text_model.embed(missing)
            for text, vector in zip(missing, vectors, strict=True):
                self._texts[text] = torch.from_numpy(np.array(vector)).to(self.device)
        return torch.stack([self._texts[t] for t in texts])

    @property
    def uses_auxiliary_loss(self) -> bool:
        return bool(self.config.distill_weight)

    def auxiliary_loss(self) -> torch.Tensor | None:
        """The distillation term of the images embedded since the last call (then forgotten)."""
        terms, self._distill = self._distill, []
        if not terms:
            return None
        return torch.stack([t for t, _ in terms]).sum() / sum(n for _, n in terms)

    @property
    def encoder(self) -> MiniEncoder:
        """The model being trained as an Encoder (for ``[train] eval_data``)."""
        return MiniEncoder.around(self.bridge, self.module)

    def save(self, path: Path) -> None:
        write_weights(Path(path), self.config, self.module.trainable_state())


def _image_key(item: Item) -> str:
    image = item.image
    assert image is not None
    digest = hashlib.blake2b(image.tobytes(), digest_size=16)
    digest.update(repr(image.size).encode())
    return digest.hexdigest()


def build_trainable(config: ModelConfig, device: str) -> TrainableMini:
    return TrainableMini(config, device)
