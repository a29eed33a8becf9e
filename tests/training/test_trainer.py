from __future__ import annotations

import json

import pytest
import torch

from vsearch.training import RunConfig, Trainer

from .tiny import TinyTrainable, write_colour_dataset


def make_config(tmp_path, **train):
    write_colour_dataset(tmp_path / "data", broken=train.pop("broken", 0))
    return RunConfig.from_dict(
        {
            "model": {"base": "tiny"},
            "train": {
                "output_dir": str(tmp_path / "run"),
                "batch_size": 8,
                "learning_rate": 0.05,
                "temperature": 0.1,
                "max_steps": 20,
                "device": "cpu",
                **train,
            },
            "datasets": [
                {
                    "path": str(tmp_path / "data" / "colours.jsonl"),
                    "image_root": str(tmp_path / "data"),
                }
            ],
        }
    )


def trainer(config, **kwargs):
    torch.manual_seed(0)
    return Trainer(config, TinyTrainable(), progress=False, **kwargs)


def test_loss_goes_down_on_separable_data(tmp_path):
    result = trainer(make_config(tmp_path)).train()
    assert result.steps == 20
    assert sum(result.losses[-3:]) / 3 < 0.5 * result.losses[0]
    assert (result.output / "tiny.pt").exists()
    logged = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [m["step"] for m in logged] == list(range(1, 21))
    assert {"loss", "lr", "samples_per_s"} <= logged[0].keys()


@pytest.mark.parametrize("gc_chunk_size", [0, 3])
def test_resume_reproduces_every_loss(tmp_path, gc_chunk_size):
    config = make_config(tmp_path, max_steps=8, gc_chunk_size=gc_chunk_size, warmup_steps=2)
    whole = trainer(config).train().losses
    (tmp_path / "run").rename(tmp_path / "first-run")
    first_half = trainer(config).train(stop_at=4).losses
    second_half = trainer(config).train(resume=True).losses
    assert first_half + second_half == pytest.approx(whole, abs=1e-6)


def test_grad_cache_training_matches_full_batch_training(tmp_path):
    plain = trainer(make_config(tmp_path, max_steps=4)).train().losses
    cached = trainer(make_config(tmp_path / "gc", max_steps=4, gc_chunk_size=2)).train().losses
    assert cached == pytest.approx(plain, abs=1e-5)


def test_unreadable_images_are_reported_not_fatal(tmp_path):
    run = trainer(make_config(tmp_path, max_steps=3, broken=2))
    result = run.train()
    assert result.steps == 3
    assert sum(result.data.skipped_rows.values()) >= 2
    assert any("missing0.png" in reason for reason in result.data.skipped_rows)


def test_eval_hook_is_called_and_logged(tmp_path):
    calls = []

    def hook(model, step):
        calls.append(step)
        return {"eval_score": float(step)}

    trainer(make_config(tmp_path, max_steps=4, eval_every=2), eval_hook=hook).train()
    assert calls == [2, 4]
    logged = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(logged[1])["eval_score"] == 2.0


def test_resume_without_checkpoint_says_so(tmp_path):
    with pytest.raises(ValueError, match="nothing to resume"):
        trainer(make_config(tmp_path)).train(resume=True)
