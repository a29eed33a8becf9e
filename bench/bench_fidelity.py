"""VLM2Vec fidelity (issue 13), before and after: the same measurements on two vsearch trees.

Each tree (default: /work/main, the code before the change, and this checkout) is imported in a
child process of its own; the reference side is ``tests/encoders/vlm2vec_reference.py`` (an
independent re-implementation of TIGER-AI-Lab/VLM2Vec) and the tiny checkpoints of
``train/tiny_models.py``, both taken from this checkout for every tree. Printed per tree:

1. positions: cosine of vsearch's vectors to the reference's on position-sensitive tiny
   Qwen2-VL / Qwen2.5-VL / LLaVA-Next (q/k x4), same strings and 1344x1344 images, both paddings;
2. image size: visual tokens of a 640x480 photo under Qwen2-VL-2B's processor bounds, and the
   time to prepare it; the tiny model's encode time at each policy;
3. eval path: cosine to the reference of what ``vsearch eval`` embeds for each MMEB string
   shape (strings, image policy and positions together), and how many strings differ;
4. ties: agreement of P@1 with the reference's argmax on 2000 tie-heavy score lists;
5. DDP: two gloo ranks (rank 0 with hard negatives, rank 1 without) vs one process on the
   whole batch: return code, |loss difference|, max |gradient difference|;
6. the number of MMEB datasets with an instruction table;
7. a hub id served by a local HTTP endpoint (``HF_ENDPOINT``), not cached, hub online:
   downloaded or not.

Run: HF_HUB_OFFLINE=1 python bench/bench_fidelity.py [--before /work/main] [--after .]
These are tiny random models: the numbers show the mechanisms, not real-checkpoint accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def child(root: Path, work: Path) -> dict:
    """The measurements 1-4 and 6 with ``root``'s vsearch (this process imports nothing else)."""
    sys.path.insert(0, str(HERE))
    import numpy as np
    import torch
    from PIL import Image

    from tests.encoders import vlm2vec_reference as ref
    from train.tiny_models import build_tiny_llava_next, build_tiny_qwen2_vl

    sys.path.insert(0, str(root))
    for name in [m for m in sys.modules if m == "vsearch" or m.startswith("vsearch.")]:
        del sys.modules[name]
    import vsearch
    from vsearch.encoders import Item, load_encoder

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    photos = [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in [(80, 100), (120, 60), (40, 40)]
    ]
    rows = [(text, None if i is None else photos[i]) for text, i in ref.MMEB_ROWS]
    builders = {
        "qwen2_vl": build_tiny_qwen2_vl,
        "qwen2_5_vl": lambda p: build_tiny_qwen2_vl(p, qwen2_5=True),
        "llava_next": build_tiny_llava_next,
    }
    out: dict = {"vsearch": str(Path(vsearch.__file__).parent), "positions": {}, "eval_path": {}}
    for kind, build in builders.items():
        base = work / kind
        if not base.exists():
            build(base)
        sharp = work / f"{kind}-sharp"
        if not sharp.exists():
            ref.sharpen_attention(base, sharp)
        model = ref.load_model(sharp)
        for side in ("left", "right"):
            want = ref.reference_embed(sharp, rows, padding_side=side, model=model)
            out["positions"][f"{kind}/{side}"] = _positions(sharp, rows, side, want, load_encoder)
            out["eval_path"][f"{kind}/{side}"] = _eval_path(sharp, rows, side, want)
    out["string_shapes_changed"] = _strings_changed(ref.MMEB_ROWS)
    out["image_tokens"] = _image_tokens(work, base_dir=work / "qwen2_vl")
    out["tie_agreement"] = _ties()
    try:
        from vsearch.encoders.instructions import MMEB_DATASETS

        out["mmeb_instruction_tables"] = len(MMEB_DATASETS)
    except ImportError:
        out["mmeb_instruction_tables"] = 0
    del Item
    return out


def _round(values) -> list[float]:
    return [round(float(v), 6) for v in values]


def _positions(sharp: Path, rows, side: str, want, load_encoder) -> list[float]:
    """Same strings (MMEB text, placeholder mapped) and same squashed images: positions only."""
    import torch

    from tests.encoders.vlm2vec_reference import squash
    from vsearch.encoders.vlm2vec.inputs import Row
    from vsearch.encoders.vlm2vec.prompts import verbatim_prompt

    encoder = load_encoder(str(sharp), padding_side=side)
    prepared = [
        Row(
            verbatim_prompt(text, has_image=image is not None, model_type=encoder.model_type),
            None if image is None else encoder.inputs.prepare_image(squash(image)),
        )
        for text, image in rows
    ]
    with torch.no_grad():
        got = encoder.forward_rows(prepared)
    return _round((got * want).sum(dim=1))


def _eval_path(sharp: Path, rows, side: str, want) -> list[float]:
    """What each tree's ``vsearch eval`` embeds, with its default policy for VLM2Vec."""
    import numpy as np
    import torch

    from vsearch.encoders import Item, load_encoder
    from vsearch.eval.data import split_instruction

    try:
        encoder = load_encoder(str(sharp), padding_side=side, image_resolution="reference")
    except TypeError:  # before issue 13: no image policies
        encoder = load_encoder(str(sharp), padding_side=side)
    if getattr(encoder, "reads_verbatim", False):
        got = encoder.encode_verbatim([Item(image=i, text=t) for t, i in rows])
    else:
        got = np.concatenate(
            [
                encoder.encode(
                    [Item(image=image, text=body or None)] if body or image else [],
                    instruction,
                )
                for text, image in rows
                for instruction, body in [
                    split_instruction(text, has_instruction=image is not None or ":" in text)
                ]
            ]
        )
    return _round((torch.from_numpy(got) * want).sum(dim=1))


def _strings_changed(mmeb_rows) -> int:
    """How many MMEB string shapes reach the model other than verbatim."""
    from vsearch.encoders.vlm2vec.prompts import build_prompt, map_placeholder
    from vsearch.eval.data import split_instruction

    changed = 0
    for text, image in mmeb_rows:
        expected = map_placeholder(text, "qwen2_vl")
        try:
            from vsearch.encoders.vlm2vec.prompts import verbatim_prompt
            from vsearch.eval import runner

            if "verbatim" in runner._side.__code__.co_varnames:
                got = verbatim_prompt(text, has_image=image is not None, model_type="qwen2_vl")
                changed += got != expected
                continue
        except AttributeError:
            pass
        instruction, body = split_instruction(text, has_instruction=image is not None)
        got = build_prompt(instruction, body, has_image=image is not None, model_type="qwen2_vl")
        changed += got != expected
    return changed


def _image_tokens(work: Path, base_dir: Path) -> dict:
    """A 640x480 photo under Qwen2-VL-2B's processor bounds (min 3136, max 12845056 pixels):
    visual tokens, and the time to embed it with the tiny Qwen2-VL given those bounds (best of
    3 after a warm-up; a tiny 2-layer model, so only the growth with the token count means
    anything, not the absolute time)."""
    import shutil

    from PIL import Image
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from vsearch.encoders import Item, load_encoder

    folder = work / "tiny-with-2b-bounds"
    if not folder.exists():
        shutil.copytree(base_dir, folder)
        Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=12845056).save_pretrained(folder)
    photo = Image.new("RGB", (640, 480), (90, 140, 200))
    try:
        from vsearch.encoders.vlm2vec.images import RESOLUTIONS

        options = {name: {"image_resolution": name} for name in RESOLUTIONS}
    except ImportError:
        options = {"default": {}}
    result = {}
    for name, extra in options.items():
        encoder = load_encoder(str(folder), **extra)
        tokens = encoder.inputs.prepare_image(photo).num_tokens
        encoder.encode([Item(image=photo)])
        times = []
        for _ in range(3):
            start = time.perf_counter()
            encoder.encode([Item(image=photo)])
            times.append(time.perf_counter() - start)
        result[name] = {"tokens": tokens, "encode_ms": round(1000 * min(times), 1)}
    return result


def _ties() -> float:
    import numpy as np

    from vsearch.eval.metrics import gold_rank

    rng = np.random.default_rng(0)
    agree = 0
    for _ in range(2000):
        scores = rng.choice([0.0, 0.25, 0.5, 1.0], size=int(rng.integers(2, 12)))
        agree += (gold_rank(scores) == 1) == (int(np.argmax(scores)) == 0)
    return agree / 2000


DDP_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    sys.path[:0] = [{root!r}, {here!r}]
    from tests.training.tiny import TinyTrainable
    from vsearch.training import RunConfig, Trainer
    from vsearch.training.distributed import leave_world, shard
    from vsearch.training.grad_cache import GradCache, full_batch_step

    config = RunConfig.from_dict({{
        "model": {{"base": "tiny"}},
        "train": {{"output_dir": {out!r}, "batch_size": 8, "max_steps": 1, "device": "cpu",
                   "temperature": 0.1, "gc_chunk_size": {chunk}}},
        "datasets": [{{"path": {data!r} + "/colours.jsonl", "image_root": {data!r}}}],
    }})
    torch.manual_seed(0)
    model = TinyTrainable()
    trainer = Trainer(config, model, progress=False)
    batch = [(q, t, n if i < 4 else None) for i, (q, t, n) in enumerate(trainer.next_batch())]
    rows = shard(batch, trainer.world)
    groups = [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows if r[2]]]
    if {chunk}:
        loss = GradCache(trainer._encode, trainer._loss, {chunk})(groups)
    else:
        loss = full_batch_step(trainer._encode, trainer._loss, groups)
    trainer._sum_gradients_across_ranks()
    if trainer.world.is_main:
        grads = {{n: p.grad for n, p in model.module.named_parameters()}}
        torch.save({{"loss": loss.detach(), **grads}}, {out!r} + ".pt")
    leave_world(trainer.world)
    """
)


def ddp(root: Path, work: Path) -> dict:
    import torch

    sys.path.insert(0, str(HERE))
    from tests.training.tiny import launch, write_colour_dataset

    data = work / "colours"
    if not data.exists():
        write_colour_dataset(data)
    result = {}
    runs = {}
    for name, procs, chunk in (("alone", 1, 0), ("ranks", 2, 0), ("ranks_gc", 2, 2)):
        out = work / f"ddp-{root.name}-{name}"
        script = work / f"ddp-{root.name}-{name}.py"
        script.write_text(
            DDP_SCRIPT.format(
                root=str(root), here=str(HERE), out=str(out), data=str(data), chunk=chunk
            )
        )
        done = launch(script, procs, pythonpath=f"{root}:{HERE}")
        crash = [line for line in done.stderr.splitlines() if "doesn't match" in line][:1]
        result[name] = {"returncode": done.returncode, "error": crash[0].strip() if crash else ""}
        if done.returncode == 0:
            runs[name] = torch.load(f"{out}.pt")
    for name in ("ranks", "ranks_gc"):
        if name in runs and "alone" in runs:
            diffs = [float((runs[name][k] - runs["alone"][k]).abs().max()) for k in runs["alone"]]
            result[name]["loss_diff"] = abs(float(runs[name]["loss"] - runs["alone"]["loss"]))
            result[name]["max_grad_diff"] = max(diffs)
    return result


FETCH = (
    "import sys; sys.path.insert(0, {root!r})\n"
    "from vsearch.encoders.vlm2vec.sources import resolve\n"
    "try:\n    print('downloaded:', resolve('TIGER-Lab/Tiny-VLM2Vec').model_dir.is_dir())\n"
    "except Exception as exc:\n    print('not downloaded:', str(exc)[:120])\n"
)


def download(root: Path, work: Path) -> str:
    sys.path.insert(0, str(HERE))
    from tests.hub_server import HubServer

    home = work / f"hf-{root.name}"
    with HubServer(work / "qwen2_vl", "TIGER-Lab/Tiny-VLM2Vec") as hub:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_HUB_CACHE")}
        env.update(HF_ENDPOINT=hub.url, HF_HOME=str(home), PYTHONPATH=str(root))
        code = FETCH.format(root=str(root))
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
        )
    return (done.stdout.strip() or done.stderr.strip()[-200:]).splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=Path("/work/main"))
    parser.add_argument("--after", type=Path, default=HERE)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child.resolve(), args.work)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report = {}
        for label, root in (("before", args.before.resolve()), ("after", args.after.resolve())):
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(root), "--work", str(work)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                return 1
            report[label] = json.loads(done.stdout.strip().splitlines()[-1])
            report[label]["ddp"] = ddp(root, work)
            report[label]["download"] = download(root, work)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
