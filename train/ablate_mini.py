"""Short side-by-side training runs of mini variants, to choose the architecture by measurement.

    python -m train.ablate_mini --steps 120 --limit 20

Every variant trains from the same seed on the recipe's data (``train/recipes/mini.toml``) for
``--steps`` steps in this one process (they share the frozen CNN's evidence of each image, so
only the first variant pays for it), then is scored on the photo set (all rows) and on the
mini-MMEB eval split (``--limit`` rows per dataset). The table is what the shipped choices in
the recipe rest on; the numbers are short-run numbers, for comparing variants with each other.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from vsearch.encoders.label_bridge import LabelBridgeEncoder
from vsearch.encoders.mini.training import TrainableMini
from vsearch.eval import evaluate, load_datasets
from vsearch.training import RunConfig, Trainer

VARIANTS: dict[str, dict[str, Any]] = {
    "recipe (grid 2, 3 label words, fusion 1, bare images by label-bridge)": {},
    "bare images read by the transformer too": {"bridge_bare_images": False},
    "visual tokens dropped half the time": {"drop_visual": 0.5},
    "no visual tokens (labels only)": {"visual": False},
    "distilled towards label-bridge (weight 1)": {"distill_weight": 1.0},
    "learned vector trained alone, fused at inference": {"fuse_in_training": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=Path("train/recipes/mini.toml"))
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--photos", type=Path, default=Path("train/data/photos/built"))
    parser.add_argument("--mini-mmeb", type=Path, default=Path("train/data/mini-mmeb/eval"))
    parser.add_argument("--only", action="append", help="run only these variants (repeatable)")
    parser.add_argument(
        "--evidence-cache",
        type=Path,
        help="keep the frozen CNN's evidence of the training images in this file across runs",
    )
    args = parser.parse_args()
    base = RunConfig.load(args.recipe)
    photos = load_datasets([args.photos])
    clipart = load_datasets([args.mini_mmeb], limit=args.limit)
    bridge = LabelBridgeEncoder()
    shared_images: dict[str, Any] = {}
    if args.evidence_cache and args.evidence_cache.exists():
        shared_images = torch.load(args.evidence_cache, weights_only=False)
    rows = []
    for name, options in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        config = dataclasses.replace(
            base,
            model=dataclasses.replace(base.model, options={**base.model.options, **options}),
            train=dataclasses.replace(
                base.train,
                max_steps=args.steps,
                warmup_steps=min(base.train.warmup_steps, args.steps // 10),
                save_every=0,
                output_dir=f"runs/ablate/{len(rows)}",
            ),
        )
        torch.manual_seed(config.train.seed)
        model = TrainableMini(config.model, "cpu", bridge=bridge, image_cache=shared_images)
        cached = len(shared_images)
        start = time.perf_counter()
        Trainer(config, model, progress=False).train()
        trained_s = time.perf_counter() - start
        if args.evidence_cache and len(shared_images) > cached:
            torch.save(shared_images, args.evidence_cache)
        model.module.eval()
        on_photos = evaluate(model.encoder, photos, use_cache=False)
        on_clipart = evaluate(model.encoder, clipart, use_cache=False)
        scores = {d.name: d.precision_at_1 for d in on_photos.datasets}
        row = (
            name,
            scores["Photos-T2I"],
            scores["Photos-I2T"],
            on_clipart.overall.precision_at_1 if on_clipart.overall else float("nan"),
            {k: v.precision_at_1 for k, v in on_clipart.meta_tasks.items()},
            trained_s,
        )
        rows.append(row)
        print(_format(row), flush=True)
    print(f"\n{args.steps} steps each; mini-MMEB: first {args.limit} rows per eval dataset")
    print("| variant | photos T2I R@1 | photos I2T R@1 | mini-MMEB overall | meta-tasks |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        tasks = ", ".join(f"{k} {v:.1f}" for k, v in row[4].items())
        print(f"| {row[0]} | {row[1]:.1f} | {row[2]:.1f} | {row[3]:.1f} | {tasks} |")


def _format(row: tuple) -> str:
    return (
        f"{row[0]}: photos T2I {row[1]:.1f} I2T {row[2]:.1f} | mini-MMEB {row[3]:.1f} "
        f"{row[4]} | trained in {row[5]:.0f} s"
    )


if __name__ == "__main__":
    main()
