"""GPU check of the VLM2Vec backend: CUDA bf16 vs CPU fp32 on the tiny models, and items/s.

For a session that has a CUDA device. Builds the tiny random Qwen2-VL, Qwen2.5-VL and
LLaVA-Next checkpoints (offline, seconds), embeds the same mixed image/text items on the CPU in
fp32 and on CUDA in bf16 (flash-attention when installed, else sdpa; each is run when
available), and requires a cosine of at least 0.99 between the two vectors of every item.

Fidelity (issue 13): on copies of the tiny models whose attention is position-sensitive, the
MMEB rows of ``tests/encoders/vlm2vec_reference.py`` embedded by vsearch (``encode_verbatim``,
``image_resolution="reference"``) on the device in bf16 are compared with the independent
re-implementation of the VLM2Vec reference run on the CPU in fp32: cosine >= 0.99 per row in
bf16 (>= 0.9999 when ``--device cpu`` runs it in fp32). Then it times CUDA throughput at batch 8
and 32 for image rows and text rows.

Exit status 0 when every item passes, 1 otherwise, 2 when there is no CUDA device.
Writes the report as JSON to $OUT/gpu_check_vlm2vec.json when $OUT is set, and prints it.

Run: PYTHONPATH=. python bench/gpu_check_vlm2vec.py [--items 64]
``--device cpu`` runs the same comparison against CPU bf16: a dry run of this script on a
machine without a GPU (its numbers are not the GPU check).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.encoders.vlm2vec_reference import (
    MMEB_ROWS,
    reference_embed,
    sharpen_attention,
)
from train.tiny_models import build_tiny_llava_next, build_tiny_qwen2_vl
from vsearch.encoders import Item, load_encoder

INSTRUCTION = "Represent the given image with the following question:"
MIN_COSINE = 0.99
MIN_COSINE_FP32 = 0.9999


def mixed_items(n: int) -> list[Item]:
    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        w, h = int(rng.integers(40, 300)), int(rng.integers(40, 300))
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        kind = i % 3
        if kind == 0:
            items.append(Item(image=image))
        elif kind == 1:
            items.append(Item(text=f"what color is car number {i}?"))
        else:
            items.append(Item(image=image, text=f"what is in picture {i}?"))
    return items


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def agreement(model_dir: Path, device: str, attn: str, items: list[Item]) -> dict:
    cpu = load_encoder(str(model_dir), device="cpu", dtype="float32", batch_size=8)
    gpu = load_encoder(
        str(model_dir), device=device, dtype="bfloat16", batch_size=8, attn_implementation=attn
    )
    cosine = np.sum(cpu.encode(items, INSTRUCTION) * gpu.encode(items, INSTRUCTION), axis=1)
    return {
        "model": model_dir.name,
        "attention": attn,
        "min_cosine": round(float(cosine.min()), 5),
        "mean_cosine": round(float(cosine.mean()), 5),
        "failing_items": [int(i) for i in np.flatnonzero(cosine < MIN_COSINE)],
    }


def fidelity(model_dir: Path, device: str, attn: str) -> dict:
    """vsearch on ``device`` (bf16 on CUDA, fp32 on CPU) vs the reference in fp32 on the CPU."""
    sharp = model_dir.parent / f"{model_dir.name}-sharp"
    if not sharp.exists():
        sharpen_attention(model_dir, sharp)
    rng = np.random.default_rng(2)
    photos = [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in [(80, 100), (120, 60), (40, 40)]
    ]
    rows = [(text, None if i is None else photos[i]) for text, i in MMEB_ROWS]
    on_cuda = device.startswith("cuda")
    dtype, floor = ("bfloat16", MIN_COSINE) if on_cuda else ("float32", MIN_COSINE_FP32)
    result = {"model": model_dir.name, "attention": attn, "dtype": dtype, "min_cosine": 1.0}
    failing = []
    for side in ("left", "right"):
        want = reference_embed(sharp, rows, padding_side=side).numpy()
        encoder = load_encoder(
            str(sharp),
            device=device,
            dtype=dtype,
            attn_implementation=attn,
            padding_side=side,
            image_resolution="reference",
        )
        got = encoder.encode_verbatim([Item(image=image, text=text) for text, image in rows])
        cosine = np.sum(got * want, axis=1)
        result["min_cosine"] = round(min(result["min_cosine"], float(cosine.min())), 6)
        failing += [f"{side}:{i}" for i in np.flatnonzero(cosine < floor)]
    result["failing_rows"] = failing
    return result


def throughput(model_dir: Path, device: str, attn: str, n: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(1)
    images = [
        Item(image=Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)))
        for _ in range(n)
    ]
    texts = [Item(text=f"a photo of a red car number {i} on a dirt road") for i in range(n)]
    for batch in (8, 32):
        encoder = load_encoder(
            str(model_dir),
            device=device,
            dtype="bfloat16",
            batch_size=batch,
            attn_implementation=attn,
        )
        for kind, items in (("image", images), ("text", texts)):
            encoder.encode(items[:batch], INSTRUCTION)  # warm-up, kernels, allocator
            _sync(device)
            start = time.perf_counter()
            encoder.encode(items, INSTRUCTION)
            _sync(device)
            rate = n / (time.perf_counter() - start)
            rows.append(
                {
                    "model": model_dir.name,
                    "attention": attn,
                    "rows": kind,
                    "batch": batch,
                    "items_per_s": round(rate, 1),
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (dry run)")
    args = parser.parse_args()
    on_cuda = args.device.startswith("cuda")
    if on_cuda and not torch.cuda.is_available():
        print("no CUDA device: nothing to check", file=sys.stderr)
        return 2
    kernels = ["sdpa"]
    if on_cuda and importlib.util.find_spec("flash_attn") is not None:
        kernels.append("flash_attention_2")
    items = mixed_items(args.items)
    name = torch.cuda.get_device_name() if on_cuda else "cpu (dry run, not the GPU check)"
    report: dict = {
        "device": name,
        "torch": torch.__version__,
        "agreement": [],
        "fidelity": [],
        "throughput": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        models = [
            build_tiny_qwen2_vl(Path(tmp) / "Tiny-Qwen2VL"),
            build_tiny_qwen2_vl(Path(tmp) / "Tiny-Qwen2.5VL", qwen2_5=True),
            build_tiny_llava_next(Path(tmp) / "Tiny-LLaVA-Next"),
        ]
        for model_dir in models:
            for attn in kernels:
                report["agreement"].append(agreement(model_dir, args.device, attn, items))
                report["fidelity"].append(fidelity(model_dir, args.device, attn))
        for attn in kernels:
            report["throughput"] += throughput(models[0], args.device, attn, args.items)
    report["passed"] = all(not r["failing_items"] for r in report["agreement"]) and all(
        not r["failing_rows"] for r in report["fidelity"]
    )
    text = json.dumps(report, indent=2)
    print(text)
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check_vlm2vec.json").write_text(text)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
