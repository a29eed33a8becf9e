"""Training the VLM2Vec backend: adapters that load in the encoder, the CLI, the tiny recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from train.data.colours import build as build_colours
from train.tiny_models import build_tiny_qwen2_vl
from vsearch.cli import app
from vsearch.encoders import Item, load_encoder
from vsearch.training import RunConfig, Trainer, build_trainable

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads on a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    return build_tiny_qwen2_vl(tmp_path_factory.mktemp("base") / "Tiny-Qwen2VL")


def config(tmp_path, base, adapter="lora", **train):
    data = tmp_path / "colours"
    build_colours(data, size=16)
    return RunConfig.from_dict(
        {
            "model": {"base": str(base), "adapter": adapter, "lora_dropout": 0.0},
            "train": {
                "output_dir": str(tmp_path / "run"),
                "batch_size": 4,
                "learning_rate": 5e-3,
                "temperature": 0.05,
                "max_steps": 3,
                "device": "cpu",
                **train,
            },
            "datasets": [{"path": str(data / "colours.jsonl"), "image_root": str(data)}],
        }
    )


def write_recipe(path, base, data, **train):
    """A TOML recipe: LoRA on ``base``, the colour rows under ``data``, 2 CPU steps at batch 4."""
    settings = {"batch_size": 4, "max_steps": 2, "device": "cpu", **train}
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    path.write_text(
        f'[model]\nbase = "{base}"\nlora_dropout = 0.0\n[train]\n'
        + "\n".join(lines)
        + f'\n[[datasets]]\npath = "{data}/colours.jsonl"\nimage_root = "{data}"\n'
    )
    return path


def embed(spec, items):
    return load_encoder(spec, device="cpu", dtype="float32").encode(items)


@pytest.mark.parametrize("adapter", ["lora", "dora"])
def test_trained_adapter_loads_in_the_encoder_and_changes_embeddings(tmp_path, tiny_base, adapter):
    cfg = config(tmp_path, tiny_base, adapter, gc_chunk_size=2)
    torch.manual_seed(0)
    model = build_trainable(cfg.model, "cpu")
    trainable = sum(p.numel() for p in model.module.parameters() if p.requires_grad)
    assert 0 < trainable < sum(p.numel() for p in model.module.parameters()) / 2
    result = Trainer(cfg, model, progress=False).train()
    assert result.steps == 3 and all(np.isfinite(result.losses))
    config_json = json.loads((result.output / "adapter_config.json").read_text())
    assert config_json["base_model_name_or_path"] == str(tiny_base)
    assert config_json["use_dora"] is (adapter == "dora")
    items = [
        Item(text="find the red square"),
        Item(image=__import__("PIL.Image").Image.new("RGB", (16, 16), "red")),
    ]
    before, after = embed(str(tiny_base), items), embed(str(result.output), items)
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, rtol=1e-5)
    assert np.abs(after - before).max() > 1e-3


def test_training_an_adapter_spec_is_refused(tmp_path, tiny_base):
    from train.tiny_models import build_tiny_adapter

    adapter = build_tiny_adapter(tiny_base, tmp_path / "adapter", use_dora=False)
    with pytest.raises(ValueError, match="is an adapter"):
        build_trainable(config(tmp_path, adapter).model, "cpu")


def test_train_command_then_ingest_and_query_with_the_result(tmp_path, tiny_base, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build_colours(tmp_path / "build" / "colours", size=16)
    recipe = write_recipe(
        tmp_path / "r.toml", tiny_base, "build/colours", output_dir="runs/t", gc_chunk_size=2
    )
    result = runner.invoke(app, ["train", str(recipe), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["steps"] == 2 and summary["output"] == "runs/t/final"
    model = str(tmp_path / "runs" / "t" / "final")
    images = tmp_path / "build" / "colours" / "images"
    result = runner.invoke(
        app, ["ingest", str(images), "--index", "idx", "--model", model, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 8
    result = runner.invoke(app, ["query", "find the red square", "--index", "idx", "--json"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 8
    bad = runner.invoke(app, ["train", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 1 and "does not exist" in bad.stderr


@pytest.mark.parametrize("with_negatives", [False, True])
def test_grad_cache_step_equals_full_batch_step_on_a_real_vlm(tmp_path, tiny_base, with_negatives):
    from vsearch.training.grad_cache import GradCache, full_batch_step
    from vsearch.training.loss import info_nce

    cfg = config(tmp_path, tiny_base)
    torch.manual_seed(0)
    plain, cached = build_trainable(cfg.model, "cpu"), None
    torch.manual_seed(0)
    cached = build_trainable(cfg.model, "cpu")
    red, blue, green = (
        Image.new("RGB", (16 + 8 * i, 16), c) for i, c in enumerate(["red", "blue", "green"])
    )
    groups = [
        [
            Item(text="find the red square"),
            Item(text="blue"),
            Item(image=green, text="a green one"),
        ],
        [Item(image=red), Item(image=blue), Item(text="green")],
        [Item(image=blue), Item(text="not this")] if with_negatives else [],
    ]

    def loss_fn(reps):
        return info_nce(reps[0], reps[1], reps[2] if len(reps[2]) else None, temperature=0.05)

    full = full_batch_step(plain.embed, loss_fn, groups)
    chunked = GradCache(cached.embed, loss_fn, chunk_size=1)(groups)
    assert chunked.item() == pytest.approx(full.item(), abs=1e-5)
    expected = {n: p.grad for n, p in plain.module.named_parameters() if p.requires_grad}
    got = {n: p.grad for n, p in cached.module.named_parameters() if p.requires_grad}
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("model_type", ["qwen2_vl", "llava_next"])
def test_training_strings_equal_what_ingest_and_query_build(model_type):
    from vsearch.encoders.instructions import TASKS
    from vsearch.encoders.vlm2vec.prompts import build_prompt, verbatim_prompt

    query, target = TASKS["retrieval"].query, TASKS["retrieval"].target
    at_query = build_prompt(query, "a red square", has_image=False, model_type=model_type)
    assert (
        verbatim_prompt(f"{query} a red square\n", has_image=False, model_type=model_type)
        == at_query
    )
    at_ingest = build_prompt(target, None, has_image=True, model_type=model_type)
    from train.data.colours import TARGET

    row_text = TARGET.replace("<|image_1|>\n", "")
    assert verbatim_prompt(row_text, has_image=True, model_type=model_type) == at_ingest


def test_gradient_checkpointing_gives_the_same_step(tmp_path, tiny_base):
    import dataclasses

    cfg = config(tmp_path, tiny_base, max_steps=2)
    losses = []
    for checkpointing in (False, True):
        model_cfg = dataclasses.replace(cfg.model, gradient_checkpointing=checkpointing)
        torch.manual_seed(0)
        model = build_trainable(model_cfg, "cpu")
        run = dataclasses.replace(cfg, model=model_cfg)
        losses.append(Trainer(run, model, progress=False).train().losses)
        (tmp_path / "run").rename(tmp_path / f"run-{checkpointing}")
    assert losses[1] == pytest.approx(losses[0], abs=1e-5)


def test_training_evaluates_with_the_mmeb_harness(tmp_path, tiny_base, monkeypatch):
    from train.data.colours import COLOURS
    from vsearch.encoders.instructions import TASKS
    from vsearch.training import run_training

    monkeypatch.chdir(tmp_path)
    data = tmp_path / "colours"
    build_colours(data, size=16)
    names = list(COLOURS)
    rows = [
        {
            "qry_text": f"{TASKS['retrieval'].query} a {name} square",
            "qry_img_path": "",
            "tgt_text": ["<|image_1|>\nRepresent the given image."] * len(names),
            "tgt_img_path": [f"images/{n}.png" for n in [name] + [m for m in names if m != name]],
        }
        for name in names
    ]
    (data / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = write_recipe(
        tmp_path / "r.toml",
        tiny_base,
        data,
        output_dir="run",
        eval_every=2,
        eval_data=[str(data / "eval.jsonl")],
    )
    run_training(str(recipe), progress=False)
    logged = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert "eval_overall_p@1" in logged[-1] and "eval_eval_p@1" in logged[-1]
    assert 0.0 <= logged[-1]["eval_overall_p@1"] <= 100.0


def test_training_embeds_mmeb_rows_exactly_as_eval_does(tmp_path, tiny_base):
    """Issue 13: the trainer's reader keeps MMEB texts whole (placeholder and newlines), and
    the trainable model embeds them as ``encode_verbatim`` (what ``vsearch eval`` calls)."""
    from vsearch.training.data import RowReader

    Image.new("RGB", (24, 16), (200, 30, 30)).save(tmp_path / "a.png")
    shapes = [
        ("<|image_1|> Represent the given image for classification.", "a.png"),
        ("<|image_1|>\nRepresent the given image.\n", "a.png"),
        ("Represent the given dialogue about an image: Q:red?\nA:yes\n\n", ""),
    ]
    reader = RowReader(64, verbatim=True)
    items = [reader.item(text, path, str(tmp_path)) for text, path in shapes]
    assert [item.text for item in items] == [text for text, _ in shapes]
    model = build_trainable(config(tmp_path, tiny_base).model, "cpu")
    with torch.no_grad():
        trained = model.embed(items).numpy()
    evaluated = load_encoder(str(tiny_base)).encode_verbatim(items)
    np.testing.assert_allclose(trained, evaluated, atol=1e-5)


def test_model_options_set_the_training_image_policy(tmp_path, tiny_base):
    """``[model.options] image_resolution = "reference"`` trains on squashed images, as the
    reference trainer does; an unknown option names the valid ones."""
    import dataclasses

    base = config(tmp_path, tiny_base).model
    squashed = build_trainable(
        dataclasses.replace(base, options={"image_resolution": "reference"}), "cpu"
    )
    assert squashed.encoder.options.image_policy.square_side == 1344
    with pytest.raises(TypeError, match="valid options: device"):
        build_trainable(dataclasses.replace(base, options={"grid": 3}), "cpu")
