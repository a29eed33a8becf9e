"""The VLM2Vec backend on tiny random Qwen2-VL, Qwen2.5-VL and LLaVA-Next checkpoints.

Every model is loaded through ``load_encoder(path)``, the code path users run on real weights.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vsearch.encoders import Item, load_encoder
from vsearch.encoders.vlm2vec.inputs import Row
from vsearch.errors import ModelNotFound, UnsupportedInput, VsearchError

INSTRUCTION = "Represent the given image with the following question:"
ATOL = 1e-5


@pytest.fixture(params=["tiny_qwen2_vl", "tiny_llava_next", "tiny_qwen2_5_vl"])
def native(request: pytest.FixtureRequest) -> Path:
    """Each natively supported backbone."""
    return request.getfixturevalue(request.param)


def _items(photos) -> list[Item]:
    return [
        Item(image=photos[0]),
        Item(text="what color is the car on the road?"),
        Item(image=photos[1], text="what color?"),
        Item(text="dog"),
        Item(image=photos[2], text="a red car on a dirt road, seen from the left side"),
    ]


def test_unit_norm_float32_and_identity(native, photos):
    encoder = load_encoder(str(native), device="cpu", dtype="float32", batch_size=8)
    emb = encoder.encode(_items(photos), INSTRUCTION)
    assert emb.dtype == np.float32 and emb.shape == (5, 64)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    identity = encoder.identity
    assert (identity.model_id, identity.dim, identity.pooling) == (native.name, 64, "last-token")
    assert len(identity.revision) == 16


def test_deterministic_across_calls_and_loads(native, photos):
    items = _items(photos)
    first = load_encoder(str(native))
    again = load_encoder(str(native))
    a = first.encode(items, INSTRUCTION)
    np.testing.assert_array_equal(a, first.encode(items, INSTRUCTION))
    np.testing.assert_array_equal(a, again.encode(items, INSTRUCTION))
    assert first.identity == again.identity


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_invariance(native, photos, side):
    """An item's vector does not depend on its batch-mates, the batch size or padding side."""
    items = _items(photos)
    alone = load_encoder(str(native), batch_size=1).encode(items, INSTRUCTION)  # no padding
    batched = load_encoder(str(native), batch_size=5, padding_side=side)
    np.testing.assert_allclose(batched.encode(items, INSTRUCTION), alone, atol=ATOL)
    reordered = batched.encode(items[::-1], INSTRUCTION)[::-1]
    np.testing.assert_allclose(reordered, alone, atol=ATOL)


def test_mixed_text_and_image_rows(native, photos):
    """Text-only rows and image rows share a batch and each gets its own vector."""
    items = _items(photos)
    encoder = load_encoder(str(native), batch_size=8)
    mixed = encoder.encode(items, INSTRUCTION)
    images_only = encoder.encode([it for it in items if it.image is not None], INSTRUCTION)
    texts_only = encoder.encode([it for it in items if it.image is None], INSTRUCTION)
    np.testing.assert_allclose(mixed[[0, 2, 4]], images_only, atol=ATOL)
    np.testing.assert_allclose(mixed[[1, 3]], texts_only, atol=ATOL)
    # The image and the text both count: no two rows collapse onto one vector.
    similarity = mixed @ mixed.T
    assert (similarity[~np.eye(5, dtype=bool)] < 0.9999).all()


def test_prepare_in_worker_threads(native, photos):
    """Ingest runs ``prepare`` in decode threads; the vectors must not change."""
    from concurrent.futures import ThreadPoolExecutor

    items = _items(photos) * 4
    encoder = load_encoder(str(native), batch_size=10)
    with ThreadPoolExecutor(4) as pool:
        prepared = list(pool.map(encoder.prepare, items))
    threaded = np.concatenate(
        [encoder.embed_batch(prepared[i : i + 10], INSTRUCTION) for i in range(0, 20, 10)]
    )
    np.testing.assert_allclose(threaded, encoder.encode(items, INSTRUCTION), atol=ATOL)


def test_cli_style_none_options_mean_defaults(tiny_qwen2_vl):
    encoder = load_encoder(str(tiny_qwen2_vl), device=None, dtype=None, batch_size=None)
    assert (encoder.runtime.device, encoder.batch_size) == ("cpu", 8)
    with pytest.raises(ValueError, match="unknown dtype 'fp8'; valid dtypes: float32"):
        load_encoder(str(tiny_qwen2_vl), dtype="fp8")


def test_blank_text_item_is_unsupported(tiny_qwen2_vl):
    with pytest.raises(UnsupportedInput, match="text is blank"):
        load_encoder(str(tiny_qwen2_vl)).prepare(Item(text="  "))


def test_instruction_changes_the_vector(tiny_qwen2_vl, photos):
    encoder = load_encoder(str(tiny_qwen2_vl))
    item = [Item(image=photos[0])]
    assert not np.allclose(encoder.encode(item, INSTRUCTION), encoder.encode(item, None))


@pytest.mark.parametrize(
    ("fixture", "token"),
    [
        ("tiny_qwen2_vl", "<|image_pad|>"),
        ("tiny_qwen2_5_vl", "<|image_pad|>"),
        ("tiny_llava_next", "<image>"),
    ],
)
def test_placeholder_mapping_per_backbone(request, photos, fixture, token):
    """``<|image_1|>`` in an MMEB instruction becomes the backbone's image token, expanded once."""
    encoder = load_encoder(str(request.getfixturevalue(fixture)))
    assert encoder.image_token == token
    item = [Item(image=photos[0], text="what color?")]
    mmeb = encoder.encode(item, f"<|image_1|>\n{INSTRUCTION}")
    np.testing.assert_array_equal(mmeb, encoder.encode(item, INSTRUCTION))
    prepared = encoder.prepare(item[0])
    row = Row(f"{token}\n{INSTRUCTION} what color?\n", prepared.image)
    batch = encoder.inputs.build_batch([row], "right")
    token_id = encoder.inputs.tokenizer.convert_tokens_to_ids(token)
    assert int((batch["input_ids"] == token_id).sum()) == prepared.image.num_tokens > 0


def test_qwen_image_size_knob(tiny_qwen2_vl, photos):
    small = load_encoder(str(tiny_qwen2_vl), max_pixels=56 * 56)
    large = load_encoder(str(tiny_qwen2_vl), max_pixels=112 * 112)
    big_photo = photos[1].resize((240, 120))
    assert small.prepare(Item(image=big_photo)).image.num_tokens <= 4  # 56*56 px / 28**2
    assert large.prepare(Item(image=big_photo)).image.num_tokens > 4
    # Without the knob the checkpoint's own bound (112*112 px in the tiny config) applies.
    default = load_encoder(str(tiny_qwen2_vl)).prepare(Item(image=big_photo)).image.num_tokens
    assert default == large.prepare(Item(image=big_photo)).image.num_tokens


def test_llava_grid_knob(tiny_llava_next, photos):
    encoder = load_encoder(str(tiny_llava_next), max_side=28 * 2)
    default = load_encoder(str(tiny_llava_next))
    assert encoder.inputs.pinpoints == default.inputs.pinpoints
    with pytest.raises(ValueError, match="excludes every grid"):
        load_encoder(str(tiny_llava_next), max_side=20)


@pytest.mark.parametrize("adapter", ["tiny_lora", "tiny_dora"])
def test_adapter_merge_equals_unmerged_peft(request, tiny_qwen2_vl, photos, adapter):
    adapter_dir = request.getfixturevalue(adapter)
    items = _items(photos)
    merged = load_encoder(str(adapter_dir))
    unmerged = load_encoder(str(adapter_dir), merge_adapter=False)
    explicit = load_encoder(f"{tiny_qwen2_vl}+{adapter_dir}")
    assert merged.identity.model_id == f"{tiny_qwen2_vl.name}+{adapter_dir.name}"
    assert merged.identity == explicit.identity
    a = merged.encode(items, INSTRUCTION)
    np.testing.assert_allclose(a, unmerged.encode(items, INSTRUCTION), atol=1e-5)
    np.testing.assert_allclose(a, explicit.encode(items, INSTRUCTION), atol=1e-6)
    base = load_encoder(str(tiny_qwen2_vl))
    assert base.identity.revision != merged.identity.revision
    assert not np.allclose(a, base.encode(items, INSTRUCTION), atol=1e-3)


def test_revision_follows_the_weights_not_the_location(tiny_qwen2_vl, tmp_path):
    copy = shutil.copytree(tiny_qwen2_vl, tmp_path / tiny_qwen2_vl.name)
    original = load_encoder(str(tiny_qwen2_vl)).identity
    assert load_encoder(str(copy)).identity == original
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10:] = bytes(10)  # change the last weights, same size
    weights.write_bytes(bytes(data))
    assert load_encoder(str(copy)).identity.revision != original.revision


def test_missing_hub_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    start = time.monotonic()
    with pytest.raises(ModelNotFound) as info:
        load_encoder("TIGER-Lab/VLM2Vec-Full")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "\n" not in message
    assert (
        "'TIGER-Lab/VLM2Vec-Full' is neither a directory nor in the Hugging Face cache" in message
    )
    assert "hf download TIGER-Lab/VLM2Vec-Full" in message


def _put_in_hub_cache(model_dir: Path, cache: Path, repo_id: str) -> None:
    """Lay out ``model_dir`` as ``hf download repo_id`` leaves it in the Hugging Face cache."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_hub_ids_resolve_from_the_local_cache(
    tiny_qwen2_vl, tiny_dora, photos, tmp_path, monkeypatch
):
    """A cached hub id loads offline; an adapter naming a cached hub base finds it there."""
    cache = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    _put_in_hub_cache(tiny_qwen2_vl, cache, "tiny-org/Tiny-Qwen2VL")
    adapter = shutil.copytree(tiny_dora, tmp_path / "adapter")
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "tiny-org/Tiny-Qwen2VL"
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    _put_in_hub_cache(adapter, cache, "tiny-org/Tiny-DoRA")

    items = _items(photos)
    cached = load_encoder("tiny-org/Tiny-Qwen2VL")
    assert cached.identity.model_id == "tiny-org/Tiny-Qwen2VL"
    assert cached.identity.revision == load_encoder(str(tiny_qwen2_vl)).identity.revision
    np.testing.assert_array_equal(
        cached.encode(items, INSTRUCTION),
        load_encoder(str(tiny_qwen2_vl)).encode(items, INSTRUCTION),
    )
    merged = load_encoder("tiny-org/Tiny-DoRA")
    assert merged.identity.model_id == "tiny-org/Tiny-Qwen2VL+tiny-org/Tiny-DoRA"
    np.testing.assert_allclose(
        merged.encode(items, INSTRUCTION),
        load_encoder(str(tiny_dora)).encode(items, INSTRUCTION),
        atol=1e-6,
    )


def test_missing_weight_files_and_missing_directory(tiny_qwen2_vl, tmp_path):
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(tiny_qwen2_vl / "config.json", partial)
    with pytest.raises(ModelNotFound, match="no weight files"):
        load_encoder(str(partial))
    with pytest.raises(ModelNotFound, match="no model directory at"):
        load_encoder(str(tmp_path / "nowhere" / "model"))


def test_adapter_with_missing_base_names_the_base(tiny_lora, tmp_path):
    adapter = shutil.copytree(tiny_lora, tmp_path / "adapter")
    config = (adapter / "adapter_config.json").read_text()
    (adapter / "adapter_config.json").write_text(
        config.replace(str(tiny_lora.parent / "Tiny-Qwen2VL"), "Qwen/Qwen2-VL-2B-Instruct")
    )
    with pytest.raises(ModelNotFound, match=r"needs its base model 'Qwen/Qwen2-VL-2B-Instruct'"):
        load_encoder(str(adapter))


def _rename_adapter_keys(adapter: Path, copy: Path, old: str, new: str) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(adapter, copy)
    weights = load_file(adapter / "adapter_model.safetensors")
    renamed = {key.replace(old, new): value for key, value in weights.items()}
    save_file(renamed, copy / "adapter_model.safetensors")
    return copy


@pytest.mark.parametrize(
    ("adapter", "new_layout", "old_layout"),
    [
        # Qwen2VLForConditionalGeneration.model was the text model in transformers 4.4x.
        ("tiny_dora", "model.model.language_model.layers", "model.model.layers"),
        # LlavaNextForConditionalGeneration.language_model was a LlamaForCausalLM.
        (
            "tiny_llava_dora",
            "model.model.language_model.layers",
            "model.language_model.model.layers",
        ),
    ],
)
def test_adapter_saved_with_the_transformers_4_layout_loads(
    request, photos, tmp_path, adapter, new_layout, old_layout
):
    """The released VLM2Vec adapters were saved with the module names of transformers 4.4x."""
    adapter_dir = request.getfixturevalue(adapter)
    legacy = _rename_adapter_keys(adapter_dir, tmp_path / "legacy", new_layout, old_layout)
    items = _items(photos)
    expected = load_encoder(str(adapter_dir)).encode(items, INSTRUCTION)
    unmerged = load_encoder(str(adapter_dir), merge_adapter=False).encode(items, INSTRUCTION)
    np.testing.assert_allclose(unmerged, expected, atol=1e-5)
    np.testing.assert_allclose(
        load_encoder(str(legacy)).encode(items, INSTRUCTION), expected, atol=1e-6
    )


def test_adapter_matching_nothing_is_refused(tiny_lora, tmp_path):
    """PEFT only warns about keys it cannot place; an adapter that loads nothing is an error."""
    stray = _rename_adapter_keys(tiny_lora, tmp_path / "stray", ".layers.", ".blocks.")
    with pytest.raises(VsearchError, match="loaded no weights"):
        load_encoder(str(stray))


def test_phi3_v_needs_the_remote_code_flag(tmp_path, monkeypatch):
    monkeypatch.delenv("VSEARCH_TRUST_REMOTE_CODE", raising=False)
    (tmp_path / "config.json").write_text('{"model_type": "phi3_v"}')
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(VsearchError, match="trust_remote_code=True"):
        load_encoder(str(tmp_path))


def test_unknown_option_lists_the_valid_ones(tiny_qwen2_vl):
    with pytest.raises(TypeError, match=r"unknown VLM2Vec option.*valid options: device, dtype"):
        load_encoder(str(tiny_qwen2_vl), devise="cpu")


def test_bf16_on_cpu_is_close_to_fp32(tiny_qwen2_vl, photos):
    items = _items(photos)
    fp32 = load_encoder(str(tiny_qwen2_vl), dtype="float32").encode(items, INSTRUCTION)
    bf16 = load_encoder(str(tiny_qwen2_vl), dtype="bfloat16").encode(items, INSTRUCTION)
    assert bf16.dtype == np.float32
    assert (np.sum(fp32 * bf16, axis=1) > 0.98).all()


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_attention_kernels_agree(tiny_llava_next, photos, attn):
    items = _items(photos)
    reference = load_encoder(str(tiny_llava_next), attn_implementation="sdpa")
    other = load_encoder(str(tiny_llava_next), attn_implementation=attn, padding_side="left")
    np.testing.assert_allclose(
        other.encode(items, INSTRUCTION), reference.encode(items, INSTRUCTION), atol=ATOL
    )


@pytest.mark.parametrize("size", [(1, 1), (10, 10), (27, 200)])
def test_tiny_images_are_embedded(native, size):
    encoder = load_encoder(str(native))
    emb = encoder.encode([Item(image=Image.new("RGB", size, (200, 10, 10)))], INSTRUCTION)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)


def test_qwen_refuses_images_it_cannot_tile(tiny_qwen2_vl):
    encoder = load_encoder(str(tiny_qwen2_vl))
    with pytest.raises(UnsupportedInput, match=r"2000x5 px is too elongated"):
        encoder.prepare(Item(image=Image.new("RGB", (2000, 5))))


def test_llava_inputs_equal_the_transformers_processor(tiny_llava_next, photos):
    """Our per-row tokenise-then-expand gives exactly what LlavaNextProcessor gives."""
    encoder = load_encoder(str(tiny_llava_next))
    prompt = f"<image>\n{INSTRUCTION} what color?\n"
    for photo in photos:
        ours = encoder.inputs.build_batch(
            [Row(prompt, encoder.prepare(Item(image=photo)).image)], "right"
        )
        theirs = encoder.inputs.processor(images=[photo], text=[prompt], return_tensors="pt")
        for key in ("input_ids", "attention_mask", "pixel_values", "image_sizes"):
            assert torch.equal(ours[key], theirs[key]), key
