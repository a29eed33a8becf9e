"""The default (mini) encoder's speed on this machine, against label-bridge in the same process.

1. Ingest end to end (crawl, decode, prepare, encode, SQLite, FAISS), images/s: mini vs
   label-bridge on the same JPEGs, alternating rounds, best kept.          (target >= 20 images/s)
2. One text query embedded (``encode`` of one instructed text, as ``vsearch query`` does),
   p50/p99 ms: mini vs label-bridge.                                        (target <= 20 ms)
3. One image query embedded, p50/p99 ms: mini vs label-bridge.

Usage: python bench/bench_mini.py [--images 240] [--rounds 2] [--queries 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_ingest import make_photos, percentiles, pipeline_run

from vsearch.encoders import Item, load_encoder
from vsearch.encoders.instructions import TASKS
from vsearch.ingest.decode import decode_image, read_bytes

QUERIES = [
    "a cat sleeping on a sofa",
    "red sports car parked by the sea",
    "snowy mountains under a blue sky",
    "a cup of coffee on a wooden table",
    "children playing football in a park",
]


def query_latency(encoder, items: list[Item], instruction: str, n: int) -> tuple[float, float]:
    for item in items[:3]:
        encoder.encode([item], instruction)  # warm-up
    samples = []
    for i in range(n):
        start = time.perf_counter()
        encoder.encode([items[i % len(items)]], instruction)
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    models = {name: load_encoder(name) for name in ("mini", "label-bridge")}
    print(f"{torch.get_num_threads()} torch threads; {args.images} JPEGs 1024x768")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_photos(folder / "photos", args.images)
        rates: dict[str, list[float]] = {name: [] for name in models}
        for round_ in range(args.rounds):
            for name, encoder in models.items():
                first_s, _ = pipeline_run(encoder, folder / "photos", folder / f"{name}{round_}")
                rates[name].append(args.images / first_s)
        best = {name: max(r) for name, r in rates.items()}
        for name, r in rates.items():
            print(
                f"ingest {name:>12}: {best[name]:6.1f} images/s  "
                f"(rounds {', '.join(f'{x:.1f}' for x in r)})"
            )
        print(
            f"ingest ratio mini / label-bridge: {best['mini'] / best['label-bridge']:.2f}x   "
            f"mini {'meets' if best['mini'] >= 20 else 'MISSES'} the 20 images/s target"
        )
        texts = [Item(text=q) for q in QUERIES]
        images = [
            Item(image=decode_image(read_bytes(p), max_side=448).item.image) for p in paths[:5]
        ]
        for kind, items, instruction in (
            ("text query", texts, TASKS["retrieval"].query),
            ("image query", images, TASKS["image_retrieval"].query),
        ):
            lat = {n: query_latency(e, items, instruction, args.queries) for n, e in models.items()}
            for name, (p50, p99) in lat.items():
                print(f"{kind} {name:>12}: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
            ratio = lat["mini"][0] / lat["label-bridge"][0]
            print(f"{kind} ratio mini / label-bridge (p50): {ratio:.2f}x")


if __name__ == "__main__":
    main()
