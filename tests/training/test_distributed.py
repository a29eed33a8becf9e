"""Two torchrun processes on gloo take the same step as one process on the joined batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(tmp_path: Path, name: str, processes: int, chunk: int) -> dict[str, torch.Tensor]:
    from tests.training.tiny import write_colour_dataset

    data = tmp_path / "data"
    if not data.exists():
        write_colour_dataset(data)
    out = tmp_path / name
    script = tmp_path / f"{name}.py"
    repo = str(Path(__file__).resolve().parents[2])
    script.write_text(SCRIPT.format(repo=repo, out=str(out), data=str(data), chunk=chunk))
    command = [sys.executable, script.name]
    if processes > 1:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={processes}",
            "--master_addr=127.0.0.1",
            f"--master_port={free_port()}",
            script.name,
        ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": repo}
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out / "final" / "tiny.pt")


def test_two_ranks_take_the_same_step_as_one_process_on_the_joined_batch(tmp_path):
    alone = run(tmp_path, "alone", 1, chunk=0)
    ranks = run(tmp_path, "ranks", 2, chunk=0)
    ranks_cached = run(tmp_path, "ranks_gc", 2, chunk=2)
    for name in alone:
        torch.testing.assert_close(ranks[name], alone[name], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(ranks_cached[name], alone[name], atol=1e-5, rtol=1e-4)
