"""Training-step memory and speed, GradCache (chunk 4) vs whole-batch, on the tiny Qwen2-VL.

Each configuration runs in its own process so that peak RSS belongs to it alone; the ratio
column compares GradCache with the whole batch at the same batch size, measured in this run.

Usage: python bench/bench_train.py [--batches 16 64 256] [--chunk 4] [--steps 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one(batch: int, chunk: int, steps: int, base: str, data: str) -> dict[str, float]:
    import torch

    from vsearch.training import RunConfig, Trainer, build_trainable

    torch.set_num_threads(2)
    config = RunConfig.from_dict(
        {
            "model": {"base": base, "lora_dropout": 0.0},
            "train": {
                "output_dir": tempfile.mkdtemp(),
                "batch_size": batch,
                "gc_chunk_size": chunk,
                "max_steps": steps + 1,
                "device": "cpu",
            },
            "datasets": [{"path": f"{data}/colours.jsonl", "image_root": data, "weight": 64.0}],
        }
    )
    torch.manual_seed(0)
    trainer = Trainer(config, build_trainable(config.model, "cpu"), progress=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # model loaded, no step yet
    trainer.train_step(trainer.next_batch())  # warm-up (its memory counts: same batch size)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(trainer.next_batch())
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "samples_per_s": batch * steps / seconds,
        "peak_mib": peak / 1024,
        "growth_mib": (peak - before) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--chunk", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        batch, chunk, base, data = args.one
        print(json.dumps(one(int(batch), int(chunk), args.steps, base, data)))
        return
    sys.path.insert(0, str(REPO))
    from train.data.colours import build as build_colours
    from train.tiny_models import build_tiny_qwen2_vl

    with tempfile.TemporaryDirectory() as tmp:
        base = str(build_tiny_qwen2_vl(Path(tmp) / "tiny"))
        data = str(build_colours(Path(tmp) / "colours", size=64).parent)
        print(f"tiny Qwen2-VL (2 layers, hidden 64) + LoRA r=8, CPU, {args.steps} timed steps")
        header = ("batch", "mode", "samples/s", "peak RSS MiB", "training growth MiB")
        print("{:>5}  {:<12} {:>10} {:>13} {:>20}".format(*header))
        for batch in args.batches:
            results = {}
            for chunk in (0, args.chunk):
                command = [
                    sys.executable,
                    __file__,
                    "--steps",
                    str(args.steps),
                    "--one",
                    str(batch),
                    str(chunk),
                    base,
                    data,
                ]
                done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=True)
                results[chunk] = json.loads(done.stdout.strip().splitlines()[-1])
                mode = f"gradcache {chunk}" if chunk else "whole batch"
                r = results[chunk]
                row = (batch, mode, r["samples_per_s"], r["peak_mib"], r["growth_mib"])
                print("{:>5}  {:<12} {:>10.1f} {:>13.0f} {:>20.0f}".format(*row))
            plain, cached = results[0], results[args.chunk]
            growth = cached["growth_mib"] / max(plain["growth_mib"], 1)
            speed = cached["samples_per_s"] / plain["samples_per_s"]
            print(f"{'':>5}  GradCache/whole: training growth {growth:.2f}x, speed {speed:.2f}x")


if __name__ == "__main__":
    main()
