"""CPU throughput of the VLM2Vec backend on the tiny random Qwen2-VL (items/s, peak RSS).

Measures the encoder's own overhead (input building, padding, pooling) plus a 2-layer model,
at batch 1, 8 and 32, for image rows and text rows. It says nothing about a real 2B model's
speed; it catches regressions in the code around the model.

Run: PYTHONPATH=. python bench/bench_vlm2vec.py [--items 64] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.tiny_models import build_tiny_qwen2_vl
from vsearch.encoders import Item, load_encoder

INSTRUCTION = "Represent the given image."


def make_items(kind: str, n: int) -> list[Item]:
    rng = np.random.default_rng(0)
    if kind == "image":
        return [
            Item(image=Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)))
            for _ in range(n)
        ]
    return [Item(text=f"a photo of a red car number {i} on a dirt road") for i in range(n)]


def items_per_second(model_dir: Path, kind: str, batch: int, n: int, repeats: int) -> float:
    encoder = load_encoder(str(model_dir), device="cpu", dtype="float32", batch_size=batch)
    items = make_items(kind, n)
    encoder.encode(items[:batch], INSTRUCTION)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        encoder.encode(items, INSTRUCTION)
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_qwen2_vl(Path(tmp) / "Tiny-Qwen2VL")
        results = []
        for kind in ("image", "text"):
            for batch in (1, 8, 32):
                ips = items_per_second(model_dir, kind, batch, args.items, args.repeats)
                results.append({"rows": kind, "batch": batch, "items_per_s": round(ips, 1)})
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    header = (
        f"tiny Qwen2-VL, CPU fp32, torch threads {torch.get_num_threads()}, {args.items} items, "
        f"load average {load:.1f} on {os.cpu_count()} CPUs (other work skews the numbers)"
    )
    print(header)
    print(f"{'rows':<6} {'batch':>5} {'items/s':>9}")
    for r in results:
        print(f"{r['rows']:<6} {r['batch']:>5} {r['items_per_s']:>9.1f}")
    print(f"peak RSS {peak_mib:.0f} MiB")
    print(json.dumps({"results": results, "peak_rss_mib": round(peak_mib), "load": load}))


if __name__ == "__main__":
    main()
