"""The Encoder protocol: items (image, text or both) + an instruction -> unit vectors."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from vsearch.errors import VsearchError


@dataclass(frozen=True)
class Item:
    """One input to an encoder: an image, a text, or both.

    The image is an RGB ``PIL.Image`` already oriented and size-capped by the decoder.
    """

    image: Image.Image | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.image is None and self.text is None:
            raise ValueError("an Item needs an image, a text or both")


@dataclass(frozen=True)
class EncoderIdentity:
    """What an index records about the encoder that filled it, and checks on every open.

    Two encoders whose identities are equal produce interchangeable vectors.
    """

    model_id: str
    revision: str
    dim: int
    pooling: str
    normalized: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderIdentity:
        fields = {"model_id", "revision", "dim", "pooling", "normalized"}
        return cls(**{k: v for k, v in data.items() if k in fields})

    def describe(self) -> str:
        return f"{self.model_id} (revision {self.revision}, dim {self.dim}, pooling {self.pooling})"


class Encoder(abc.ABC):
    """Turns items plus an instruction into L2-normalised float32 vectors.

    Subclasses implement ``identity`` and ``embed_batch``; they may override ``prepare``, the
    per-item preprocessing that ingest runs in its decode workers (thread-safe, no model call).

    An encoder does not decode files, batch a stream or cache results: ingest does those.
    """

    #: Largest image side the encoder can use; the decoder downscales to this before ``prepare``.
    max_image_side: int = 1024
    #: Items per ``embed_batch`` call that keeps memory bounded.
    batch_size: int = 32
    #: How ``load_encoder`` can build this encoder again (set by it; paths made absolute).
    spec: str | None = None
    #: Whether grounding embeds the whole image with the phrase (MMEB's query) or, False, the
    #: instructed phrase alone (``vsearch.query.ground``).
    grounds_in_context: bool = True
    #: Whether ``encode_verbatim`` embeds MMEB-format texts (instruction and ``<|image_1|>``
    #: written inline) exactly as they are, as the VLM2Vec reference does. ``vsearch eval``
    #: and the trainer then hand such an encoder MMEB strings whole; the others get the
    #: instruction split off (``vsearch.eval.data.split_instruction``).
    reads_verbatim: bool = False
    #: Whether the model reads the text an image shows (a VLM does). Where it does not, ingest
    #: fuses the embedding of an image's recognised text (OCR, a PDF page's text layer) into
    #: the image's vector (``vsearch.ingest.fusion``).
    reads_text_in_images: bool = False

    @property
    @abc.abstractmethod
    def identity(self) -> EncoderIdentity:
        """The identity recorded by indexes built with this encoder."""

    @property
    def dim(self) -> int:
        return self.identity.dim

    def prepare(self, item: Item) -> Any:
        """Per-item preprocessing (resize, normalise, tokenise); runs in worker threads."""
        return item

    @abc.abstractmethod
    def embed_batch(self, prepared: Sequence[Any], instruction: str | None) -> np.ndarray:
        """Embed prepared items.

        Args:
            prepared: outputs of ``prepare``.
            instruction: task instruction placed before each item's text, or None.

        Returns:
            ``(n, dim)`` float32, each row L2-normalised.
        """

    def encode(self, items: Sequence[Item], instruction: str | None = None) -> np.ndarray:
        """Embed items in batches of ``batch_size``.

        Returns:
            ``(len(items), dim)`` float32, L2-normalised rows.
        """
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [
            self.embed_batch(
                [self.prepare(it) for it in items[i : i + self.batch_size]], instruction
            )
            for i in range(0, len(items), self.batch_size)
        ]
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def encode_verbatim(self, items: Sequence[Item]) -> np.ndarray:
        """Embed MMEB-format texts as written (only where ``reads_verbatim`` is True).

        Returns:
            ``(len(items), dim)`` float32, L2-normalised rows.
        """
        raise NotImplementedError(f"{type(self).__name__} does not read MMEB strings verbatim")


def checked_device(device: str | None, default: str = "cpu") -> str:
    """``device`` (or ``default``) if torch can use it here.

    Raises:
        VsearchError: an unknown device name, or CUDA on a machine (or torch build) without it.
    """
    import torch

    chosen = device or default
    try:
        kind = torch.device(chosen).type
    except RuntimeError:
        raise VsearchError(f"unknown device {chosen!r}; use cpu, cuda or cuda:N") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise VsearchError(
            f"--device {chosen} asked for, but torch sees no CUDA device here "
            f"(torch {torch.__version__}); use --device cpu"
        )
    return chosen


def check_float32_options(model: str, dtype: str | None, unknown: dict[str, object]) -> None:
    """One-line errors for the options of an encoder that takes device, dtype and batch_size
    and runs in float32 only."""
    if unknown:
        raise ValueError(
            f"{model} does not take {', '.join(sorted(unknown))}; "
            "valid options: device, dtype, batch_size"
        )
    if dtype not in (None, "float32"):
        raise ValueError(f"{model} runs in float32 only, not {dtype}")


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). ``(n, d)`` float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
