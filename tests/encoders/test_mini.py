"""The mini encoder: the shipped default model, loaded offline from the package's own files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from train.data.colours import COLOURS
from train.data.colours import build as build_colours
from vsearch.encoders import DEFAULT_MODEL, Item, load_encoder
from vsearch.encoders.instructions import TASKS
from vsearch.encoders.mini import MiniEncoder, shipped_dir
from vsearch.encoders.mini.model import ImageInput, is_bare_image
from vsearch.encoders.mini.training import TrainableMini, text_content
from vsearch.errors import ModelNotFound
from vsearch.training import RunConfig, Trainer
from vsearch.training.config import ModelConfig

from ..conftest import DATA

IMAGE = TASKS["retrieval"].target


@pytest.fixture(scope="module")
def mini() -> MiniEncoder:
    return load_encoder("mini")


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    return [Image.open(DATA / n).convert("RGB") for n in ("cat.jpg", "coffee.jpg", "rocket.jpg")]


def test_the_shipped_weights_load_offline_with_their_provenance(mini):
    assert mini.identity.model_id == "mini" and mini.dim == 384
    manifest = json.loads((shipped_dir() / "mini.json").read_text())
    assert manifest["recipe"]["path"] == "train/recipes/mini.toml"
    assert manifest["data"]["train_rows_sha256"]
    assert {"mini-MMEB", "photos"} <= set(manifest["eval"])
    assert (shipped_dir() / "model.safetensors").stat().st_size < 8_000_000


def test_the_default_is_the_model_that_wins_on_photos():
    """The default is mini only while it is no worse than label-bridge on real photographs."""
    results = Path(__file__).parents[2] / "train" / "data" / "results"

    def photo_scores(name: str) -> dict[str, float]:
        report = json.loads((results / f"{name}-photos.json").read_text())
        return {d["name"]: d["precision_at_1"] for d in report["datasets"]}

    mini, bridge = photo_scores("mini"), photo_scores("label-bridge")
    mini_wins = all(mini[task] >= bridge[task] for task in ("Photos-T2I", "Photos-I2T"))
    assert ("mini" if mini_wins else "label-bridge") == DEFAULT_MODEL


def test_the_shipped_model_stores_a_bare_image_as_label_bridge_does(mini, photos):
    """Text -> image search of an index can never fall below label-bridge's on photographs."""
    images = [Item(image=p) for p in photos]
    expected = load_encoder("label-bridge").encode(images, IMAGE)
    np.testing.assert_allclose(mini.encode(images, IMAGE), expected, atol=1e-6)
    np.testing.assert_allclose(mini.encode(images, None), expected, atol=1e-6)


def test_vectors_are_unit_384d_and_deterministic(mini, photos):
    items = [Item(image=p) for p in photos] + [Item(text="a cat"), Item(image=photos[0], text="x")]
    first = mini.encode(items, IMAGE)
    assert first.shape == (5, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    again = load_encoder("mini").encode(items[::-1], IMAGE)[::-1]  # a new instance, other batch
    np.testing.assert_allclose(first, again, atol=1e-5)


def test_instruction_changes_an_image_embedding(mini, photos):
    image = [Item(image=photos[0])]
    plain = mini.encode(image, IMAGE)[0]
    classify = mini.encode(image, TASKS["classification"].query)[0]
    assert plain @ classify < 0.9999
    asked = mini.encode([Item(image=photos[0], text="What colour is it?")], TASKS["vqa"].query)[0]
    assert plain @ asked < 0.9999


def test_text_alone_is_the_sentence_model_whatever_the_instruction(mini):
    from vsearch.encoders.sentence import SentenceModel

    texts = ["a cat on a sofa", "rocket launch at night"]
    expected = SentenceModel().embed(texts)
    for instruction in (None, TASKS["retrieval"].query):
        got = mini.encode([Item(text=t) for t in texts], instruction)
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_photos_find_their_captions(mini, photos):
    captions = ["a cat", "a cup of coffee", "a rocket launch"]
    images = mini.encode([Item(image=p) for p in photos], IMAGE)
    queries = mini.encode([Item(text=c) for c in captions], TASKS["retrieval"].query)
    assert (queries @ images.T).argmax(axis=1).tolist() == [0, 1, 2]


def test_a_folder_without_mini_weights_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFound, match="holds no mini model"):
        MiniEncoder(tmp_path)
    with pytest.raises(ValueError, match="valid options"):
        MiniEncoder(colour="red")


def test_text_content_drops_only_a_leading_query_instruction():
    assert text_content(f"{TASKS['retrieval'].query} a red car\n") == "a red car"
    assert text_content("star 32pt: stars, shapes") == "star 32pt: stars, shapes"


def colour_score(model: TrainableMini) -> float:
    """Text-to-image P@1 over the eight colour squares, through the model's Encoder view."""
    names = list(COLOURS)
    encoder = model.encoder
    queries = encoder.encode([Item(text=f"a {n} square") for n in names], TASKS["retrieval"].query)
    squares = [Item(image=Image.new("RGB", (64, 64), COLOURS[n])) for n in names]
    images = encoder.encode(squares, IMAGE)
    return float(((queries @ images.T).argmax(axis=1) == np.arange(len(names))).mean())


def test_a_short_training_run_improves_the_fixture_score(tmp_path):
    build_colours(tmp_path / "colours", size=64)
    config = RunConfig.from_dict(
        {
            "model": {"base": "mini", "options": {"drop_visual": 0.0, "drop_labels": 0.0}},
            "train": {
                "output_dir": str(tmp_path / "run"),
                "batch_size": 8,
                "learning_rate": 3e-3,
                "temperature": 0.05,
                "max_steps": 25,
                "device": "cpu",
                "seed": 0,
            },
            "datasets": [
                {
                    "path": str(tmp_path / "colours" / "colours.jsonl"),
                    "image_root": str(tmp_path / "colours"),
                }
            ],
        }
    )
    torch.manual_seed(0)
    model = TrainableMini(config.model, "cpu")
    before = colour_score(model)
    result = Trainer(config, model, progress=False).train()
    after = colour_score(model)
    assert after > before and after >= 0.75, (before, after)
    trained = MiniEncoder(result.output)
    assert trained.identity.revision != load_encoder("mini").identity.revision


def test_the_trainer_builds_mini_from_its_registered_name():
    from vsearch.training.model import build_trainable

    model = build_trainable(ModelConfig(base="mini", options={"grid": 1}), "cpu")
    assert isinstance(model, TrainableMini) and model.config.visual_tokens == 2


def test_trained_alone_the_loss_sees_the_learned_vector_and_inference_adds_label_bridge(photos):
    alone = TrainableMini(ModelConfig(base="mini", options={"fuse_in_training": False}), "cpu")
    alone.module.eval()
    item = Item(image=photos[0], text=IMAGE)
    with torch.no_grad():
        trained_on = alone.embed([item])[0]
    bridge = torch.from_numpy(alone.bridge.encode([Item(image=photos[0])], IMAGE)[0])
    served = torch.from_numpy(alone.encoder.encode([Item(image=photos[0])], IMAGE)[0])
    expected = torch.nn.functional.normalize(trained_on + bridge, dim=0)
    torch.testing.assert_close(served, expected, atol=1e-5, rtol=0)
    assert trained_on @ served < 0.999


def test_without_visual_tokens_only_the_label_evidence_is_read_and_saved(tmp_path, photos):
    labels_only = TrainableMini(ModelConfig(base="mini", options={"visual": False}), "cpu")
    saved = labels_only.module.trainable_state()
    assert not any(n.startswith("projector") or n == "cell_embedding" for n in saved)
    labels_only.save(tmp_path / "labels-only")
    encoder = MiniEncoder(tmp_path / "labels-only")
    vectors = encoder.encode([Item(image=p) for p in photos], IMAGE)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_distillation_adds_a_term_per_step_and_refuses_gradcache(tmp_path, photos):
    model = TrainableMini(ModelConfig(base="mini", options={"distill_weight": 1.0}), "cpu")
    model.module.train()
    model.embed([Item(image=photos[0], text=IMAGE), Item(text="a cat")])
    term = model.auxiliary_loss()
    assert term is not None and term.requires_grad and 0 < term.item() < 2
    assert model.auxiliary_loss() is None  # consumed by the step that asked for it
    build_colours(tmp_path / "colours")
    config = RunConfig.from_dict(
        {
            "model": {"base": "mini"},
            "train": {"output_dir": str(tmp_path / "run"), "gc_chunk_size": 4, "device": "cpu"},
            "datasets": [{"path": str(tmp_path / "colours" / "colours.jsonl")}],
        }
    )
    with pytest.raises(ValueError, match="gc_chunk_size = 0"):
        Trainer(config, model, progress=False)


def test_only_an_image_with_nothing_asked_of_it_is_bare():
    def bare(instruction, text=None):
        return is_bare_image(ImageInput(instruction=instruction, text=text, label_words="x"))

    assert bare(None) and bare(IMAGE) and bare(TASKS["grounding"].target)
    assert not bare(TASKS["classification"].query)
    assert not bare(IMAGE, "a red car") and not bare(None, "What colour is it?")


def test_bare_images_are_their_label_bridge_vectors_in_training_and_inference(photos):
    options = {"bridge_bare_images": True, "drop_visual": 0.0, "drop_labels": 0.0}
    model = TrainableMini(ModelConfig(base="mini", options=options), "cpu")
    model.module.train()
    bridge = model.bridge.encode([Item(image=p) for p in photos], IMAGE)
    trained_on = model.embed(
        [
            Item(image=photos[0], text=IMAGE),
            Item(image=photos[1], text=TASKS["vqa"].query + " Why?"),
        ]
    )
    np.testing.assert_allclose(trained_on[0].detach().numpy(), bridge[0], atol=1e-6)
    assert trained_on.requires_grad and trained_on[1].detach().numpy() @ bridge[1] < 0.999
    model.module.eval()
    served = model.encoder.encode([Item(image=p) for p in photos], IMAGE)
    np.testing.assert_allclose(served, bridge, atol=1e-6)
    classify = model.encoder.encode([Item(image=photos[0])], TASKS["classification"].query)[0]
    assert classify @ bridge[0] < 0.999


def test_mini_grounds_a_phrase_in_the_right_photo_of_a_pair(mini, photos):
    from vsearch.query.ground import ground

    pair = Image.new("RGB", (256, 128))
    pair.paste(photos[0].resize((128, 128)), (0, 0))  # the cat
    pair.paste(photos[2].resize((128, 128)), (128, 0))  # the rocket
    for phrase, on_left in (("a cat", True), ("a rocket launch", False)):
        box = ground(mini, pair, phrase, top=1)[0].box
        assert ((box[0] + box[2]) / 2 < 128) == on_left, (phrase, box)


def test_a_model_part_loads_only_when_an_input_needs_it():
    """A text needs the sentence model alone; a bare image adds the CNN; only an image with a
    task builds the trained transformer."""
    from vsearch.encoders.mini import MiniEncoder

    encoder = MiniEncoder()
    assert encoder.bridge._classifier is None and encoder._model is None
    encoder.encode([Item(text="a cat")], None)
    assert encoder.bridge._classifier is None and encoder._model is None
    picture = Image.open(DATA / "cat.jpg")
    encoder.encode([Item(image=picture)], "Represent the given image.")
    assert encoder.bridge._classifier is not None and encoder._model is None
    encoder.encode([Item(image=picture)], "Represent the given image for classification.")
    assert encoder._model is not None
