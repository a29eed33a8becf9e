"""How big an image a VLM2Vec backbone looks at: named resolution policies and their bounds.

The VLM2Vec reference squashes every image to 1344x1344 before the processor (v1.0
``src/dataset.py`` with its default ``--image_resolution high``; main ``eval_collator.py`` with
``--resize_use_processor false --image_resolution high``), then lets the processor tile it:

- v1.0 keeps the checkpoint's own pixel bounds, so Qwen2-VL reads 48x48 / 4 = 2304 visual
  tokens for every image, whatever its shape;
- main caps Qwen2-VL at 1280 tokens (``resize_max_pixels = 1280 * 28 * 28``): 1225 tokens.

Released VLM2Vec scores were measured that way, so ``vsearch eval`` uses ``reference`` for
VLM2Vec checkpoints. Ingest and queries default to ``aspect``: the aspect ratio is kept and
Qwen-VL is capped at 1280 tokens (a 640x480 photo: 391 tokens), faster on a CPU but not the
distribution the checkpoints were scored on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image

#: 1280 visual tokens of 28x28 pixels (the VLM2Vec training bound).
CPU_SAFE_MAX_PIXELS = 1280 * 28 * 28
REFERENCE_SIDE = 1344


@dataclass(frozen=True)
class ImagePolicy:
    """How big an image the encoder looks at; each backbone reads the fields that apply to it.

    Attributes:
        name: the named policy this came from (``RESOLUTIONS``), recorded in the revision.
        square_side: resize every image to ``square_side`` x ``square_side`` first (the
            reference's squash, aspect ratio not kept); None keeps the image's shape.
        min_pixels: Qwen2-VL / Qwen2.5-VL lower bound on pixels after resizing (28x28 units);
            None: the checkpoint's own (``preprocessor_config.json``).
        max_pixels: Qwen2-VL / Qwen2.5-VL upper bound; visual tokens = pixels / 784. None: the
            checkpoint's own, capped at ``cap_pixels``.
        cap_pixels: the cap on the checkpoint's own ``max_pixels`` (None: no cap). The released
            configs allow 12.8 MP (16k tokens), far too slow on a CPU.
        max_side: LLaVA-Next: keep only the anyres grids whose longer side is at most this
            (None: every grid of the checkpoint, up to 672x672 = 5 crops for LLaVA-1.6).
        num_crops: Phi-3.5-V HD crops (the VLM2Vec evaluation uses 4). The reference never
            squashes Phi-3.5-V images, so ``square_side`` does not apply to it.
    """

    name: str = "aspect"
    square_side: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    cap_pixels: int | None = CPU_SAFE_MAX_PIXELS
    max_side: int | None = None
    num_crops: int = 4

    def squash(self, image: Image.Image) -> Image.Image:
        """The image as the backbone's processor should see it (PIL's default resampling,
        bicubic, as the reference's ``image.resize((1344, 1344))``)."""
        if self.square_side is None:
            return image
        return image.resize((self.square_side, self.square_side))


#: The named policies ``image_resolution`` takes.
RESOLUTIONS: dict[str, ImagePolicy] = {
    "aspect": ImagePolicy(),
    "reference": ImagePolicy("reference", square_side=REFERENCE_SIDE, cap_pixels=None),
    "reference-capped": ImagePolicy("reference-capped", square_side=REFERENCE_SIDE),
}
DEFAULT_RESOLUTION = "aspect"
EVAL_RESOLUTION = "reference"


def image_policy(
    name: str | None = None,
    *,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    max_side: int | None = None,
    num_crops: int | None = None,
) -> ImagePolicy:
    """The named policy with the explicit bounds laid over it.

    Raises:
        ValueError: an unknown name; the message lists the valid ones.
    """
    name = name or DEFAULT_RESOLUTION
    if name not in RESOLUTIONS:
        raise ValueError(f"unknown image_resolution {name!r}; valid: {', '.join(RESOLUTIONS)}")
    policy = RESOLUTIONS[name]
    return replace(
        policy,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        max_side=max_side,
        num_crops=policy.num_crops if num_crops is None else num_crops,
    )
