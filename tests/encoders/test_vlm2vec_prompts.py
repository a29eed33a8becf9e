"""The prompt strings and pooling of the VLM2Vec backend, without a model."""

from __future__ import annotations

import pytest
import torch

from vsearch.encoders.instructions import task
from vsearch.encoders.vlm2vec.pooling import last_token_pool
from vsearch.encoders.vlm2vec.prompts import build_prompt, map_placeholder

VQA = "Represent the given image with the following question:"


@pytest.mark.parametrize(
    ("instruction", "text", "has_image", "expected"),
    [
        (VQA, "What color is it?", True, f"<|image_pad|>\n{VQA} What color is it?\n"),
        ("Represent the given image.", None, True, "<|image_pad|>\nRepresent the given image.\n"),
        (
            task("retrieval").query,
            "a red car",
            False,
            "Find me an everyday image that matches the given caption: a red car\n",
        ),
        (None, "dog", False, "dog"),
        (None, None, True, "<|image_pad|>"),
        (None, "a caption", True, "<|image_pad|>\na caption"),
    ],
)
def test_prompt_follows_the_mmeb_strings(instruction, text, has_image, expected):
    assert build_prompt(instruction, text, has_image=has_image, model_type="qwen2_vl") == expected


@pytest.mark.parametrize(
    ("model_type", "token"),
    [
        ("qwen2_vl", "<|image_pad|>"),
        ("qwen2_5_vl", "<|image_pad|>"),
        ("llava_next", "<image>"),
        ("phi3_v", "<|image_1|>"),
    ],
)
def test_placeholder_maps_to_each_backbone_token(model_type, token):
    mmeb_row = "<|image_1|>\nRepresent the given image."
    assert map_placeholder(mmeb_row, model_type) == f"{token}\nRepresent the given image."
    # An instruction that already holds the placeholder gets no second image token.
    assert build_prompt(mmeb_row, None, has_image=True, model_type=model_type) == (
        f"{token}\nRepresent the given image.\n"
    )
    assert (
        build_prompt("Represent the given image.", None, has_image=True, model_type=model_type)
        == f"{token}\nRepresent the given image.\n"
    )


def test_placeholder_without_an_image_is_refused():
    with pytest.raises(ValueError, match="has none"):
        build_prompt(
            "<|image_1|>\nRepresent the given image.",
            None,
            has_image=False,
            model_type="llava_next",
        )


def test_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="unsupported VLM2Vec backbone 'mllama'"):
        build_prompt(None, "x", has_image=False, model_type="mllama")


def _reference_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The reference's two branches: ``[:, -1]`` under left padding, else ``sum - 1``."""
    if int(mask[:, -1].sum()) == mask.shape[0]:
        return hidden[:, -1]
    return hidden[torch.arange(hidden.shape[0]), mask.sum(dim=1) - 1]


@pytest.mark.parametrize("side", ["left", "right"])
def test_last_token_pool_matches_the_reference(side):
    hidden = torch.randn(3, 5, 4)
    lengths = [5, 2, 3]
    mask = torch.zeros(3, 5, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, 5 - n :] = 1 if side == "left" else 0
        if side == "right":
            mask[i, :n] = 1
    assert torch.equal(last_token_pool(hidden, mask), _reference_pool(hidden, mask))
