"""Two torchrun processes on gloo take the same step as one process on the joined batch."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch

from tests.training.tiny import launch, write_colour_dataset

SCRIPT = textwrap.dedent(
    """
    import sys, torch
    sys.path.insert(0, {repo!r})
    from tests.training.tiny import TinyTrainable, write_colour_dataset
    from vsearch.training import RunConfig, Trainer

    config = RunConfig.from_dict({{
        "model": {{"base": "tiny"}},
        "train": {{"output_dir": {out!r}, "batch_size": 8, "max_steps": 1, "device": "cpu",
                   "learning_rate": 0.05, "temperature": 0.1, "gc_chunk_size": {chunk},
                   "grad_clip": 0.0}},
        "datasets": [{{"path": {data!r} + "/colours.jsonl", "image_root": {data!r}}}],
    }})
    torch.manual_seed(0)
    model = TinyTrainable()
    Trainer(config, model, progress=False).train()
    """
)


REPO = str(Path(__file__).resolve().parents[2])


def take_step(tmp_path: Path, name: str, template: str, processes: int, chunk: int) -> Path:
    """Write the colour data once, run ``template`` as a script; returns its output path."""
    data = tmp_path / "data"
    if not data.exists():
        write_colour_dataset(data)
    out = tmp_path / name
    script = tmp_path / f"{name}.py"
    script.write_text(template.format(repo=REPO, out=str(out), data=str(data), chunk=chunk))
    done = launch(script, processes, pythonpath=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def run(tmp_path: Path, name: str, processes: int, chunk: int) -> dict[str, torch.Tensor]:
    out = take_step(tmp_path, name, SCRIPT, processes, chunk)
    return torch.load(out / "final" / "tiny.pt")


def test_two_ranks_take_the_same_step_as_one_process_on_the_joined_batch(tmp_path):
    alone = run(tmp_path, "alone", 1, chunk=0)
    ranks = run(tmp_path, "ranks", 2, chunk=0)
    ranks_cached = run(tmp_path, "ranks_gc", 2, chunk=2)
    for name in alone:
        torch.testing.assert_close(ranks[name], alone[name], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ranks_cached[name], alone[name], atol=1e-5, rtol=1e-4)


GRADIENTS_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    sys.path.insert(0, {repo!r})
    from tests.training.tiny import TinyTrainable
    from vsearch.training import RunConfig, Trainer
    from vsearch.training.distributed import leave_world

    config = RunConfig.from_dict({{
        "model": {{"base": "tiny"}},
        "train": {{"output_dir": {out!r}, "batch_size": 8, "max_steps": 1, "device": "cpu",
                   "temperature": 0.1, "gc_chunk_size": {chunk}}},
        "datasets": [{{"path": {data!r} + "/colours.jsonl", "image_root": {data!r}}}],
    }})
    torch.manual_seed(0)
    model = TinyTrainable()
    trainer = Trainer(config, model, progress=False)
    # Rows 0-3 (rank 0's shard) keep their hard negatives, rows 4-7 (rank 1's) have none.
    batch = [(q, t, n if i < 4 else None) for i, (q, t, n) in enumerate(trainer.next_batch())]
    loss = trainer.accumulate_gradients(batch)
    if trainer.world.is_main:
        grads = {{name: p.grad for name, p in model.module.named_parameters()}}
        torch.save({{"loss": torch.tensor(loss), **grads}}, {out!r} + ".pt")
    leave_world(trainer.world)
    """
)


def gradients(tmp_path: Path, name: str, processes: int, chunk: int) -> dict[str, torch.Tensor]:
    """Loss and gradients of one step on the colour batch, uneven negatives across shards."""
    out = take_step(tmp_path, name, GRADIENTS_SCRIPT, processes, chunk)
    return torch.load(f"{out}.pt")


def test_a_shard_without_hard_negatives_takes_the_one_process_step(tmp_path):
    """Issue 13: rank 0's rows carry hard negatives and rank 1's none; gloo used to abort
    ("Received data size doesn't match") on the 1-D empty group."""
    alone = gradients(tmp_path, "alone", 1, chunk=0)
    for name, chunk in (("ranks", 0), ("ranks_gc", 2)):
        ranks = gradients(tmp_path, name, 2, chunk=chunk)
        assert set(ranks) == set(alone)
        for key in alone:
            torch.testing.assert_close(ranks[key], alone[key], atol=1e-6, rtol=1e-5)
