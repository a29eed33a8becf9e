"""Issue 13: vsearch's VLM2Vec embeddings equal an independent re-implementation of the
reference (``vlm2vec_reference``) on tiny checkpoints whose attention is position-sensitive.

The reference computation calls the transformers model directly with the reference's own
positions, image sizes, strings and pooling; nothing of vsearch's input code is shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.encoders.vlm2vec_reference import (
    MMEB_ROWS,
    load_model,
    reference_embed,
    sharpen_attention,
)
from vsearch.encoders import Item, load_encoder
from vsearch.encoders.vlm2vec.prompts import map_placeholder

MIN_COSINE = 0.9999


@pytest.fixture(scope="module", params=["tiny_qwen2_vl", "tiny_qwen2_5_vl", "tiny_llava_next"])
def sharp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of each backbone with q/k scaled up, so wrong positions change the vectors."""
    source = request.getfixturevalue(request.param)
    return sharpen_attention(source, tmp_path_factory.mktemp("sharp") / source.name)


@pytest.fixture(scope="module")
def reference_model(sharp: Path) -> torch.nn.Module:
    return load_model(sharp)


def _rows(photos) -> list[tuple[str, object]]:
    return [(text, None if i is None else photos[i]) for text, i in MMEB_ROWS]


def _cosines(got: np.ndarray, want: torch.Tensor) -> np.ndarray:
    return (torch.from_numpy(got) * want).sum(dim=1).numpy()


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_mixed_batch_matches_the_reference_row_by_row(sharp, reference_model, photos, side):
    rows = _rows(photos)
    want = reference_embed(sharp, rows, padding_side=side, model=reference_model)
    encoder = load_encoder(
        str(sharp), image_resolution="reference", padding_side=side, batch_size=len(rows)
    )
    got = encoder.encode_verbatim([Item(image=image, text=text) for text, image in rows])
    cosines = _cosines(got, want)
    assert cosines.min() >= MIN_COSINE, cosines


def test_mrope_positions_are_an_opt_in_that_the_reference_check_tells_apart(
    tiny_qwen2_vl, photos, tmp_path
):
    """The check is not blind to positions: transformers' M-RoPE grid positions (what vsearch
    used before issue 13) move the image rows away from the reference."""
    sharp = sharpen_attention(tiny_qwen2_vl, tmp_path / "sharp")
    rows = _rows(photos)
    want = reference_embed(sharp, rows, padding_side="right")
    encoder = load_encoder(str(sharp), image_resolution="reference", positions="mrope")
    cosines = _cosines(encoder.encode_verbatim([Item(image=i, text=t) for t, i in rows]), want)
    image_rows = [k for k, (_, i) in enumerate(MMEB_ROWS) if i is not None]
    assert cosines[image_rows].max() < MIN_COSINE
    assert cosines.min() > 0.5


@pytest.mark.parametrize("model_type", ["qwen2_vl", "llava_next", "phi3_v"])
def test_every_mmeb_string_shape_is_embedded_verbatim(model_type):
    """Only ``<|image_1|>`` is swapped for the backbone's token: no stripping, no added or
    merged newlines, the space form kept."""
    from vsearch.encoders.vlm2vec.prompts import verbatim_prompt

    for text, image in MMEB_ROWS:
        expected = map_placeholder(text, model_type)
        assert verbatim_prompt(text, has_image=image is not None, model_type=model_type) == (
            expected
        )


def test_the_reference_policy_squashes_to_1344_and_keeps_the_checkpoints_bounds(tiny_qwen2_vl):
    from PIL import Image

    photo = Image.new("RGB", (640, 480), (10, 120, 200))
    aspect = load_encoder(str(tiny_qwen2_vl)).inputs.prepare_image(photo)
    squashed = load_encoder(str(tiny_qwen2_vl), image_resolution="reference")
    grid = squashed.inputs.prepare_image(photo).tensors["image_grid_thw"][0].tolist()
    # The tiny checkpoint's own bound is 112x112 pixels: a square of 8x8 patches.
    assert grid == [1, 8, 8]
    assert aspect.tensors["image_grid_thw"][0].tolist() != grid
    with pytest.raises(ValueError, match="valid: aspect, reference, reference-capped"):
        load_encoder(str(tiny_qwen2_vl), image_resolution="huge")


def test_the_input_recipe_is_part_of_the_revision(tiny_qwen2_vl):
    """Vectors made with other positions or image sizes never mix in an index or eval cache."""
    revisions = {
        load_encoder(str(tiny_qwen2_vl), **options).identity.revision
        for options in (
            {},
            {"image_resolution": "reference"},
            {"positions": "mrope"},
            {"max_pixels": 56 * 56},
        )
    }
    assert len(revisions) == 4
    assert load_encoder(str(tiny_qwen2_vl)).identity.revision in revisions
