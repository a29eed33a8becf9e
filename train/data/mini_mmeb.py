"""Build the open mini-MMEB from Debian's Open Clip Art: ``python -m train.data.mini_mmeb``.

Deterministic for a given library and seed. Pictures are split by object name (hashed with the
seed), so train and eval share no picture and no caption; pictures whose bytes or caption
still occur in train are dropped from eval. Output, under ``--out``::

    images/clipart/<folder>/<name>.png     pictures used by any row, RGB on white
    images/grounding/{train,eval}/...      canvases and their crops
    eval/<Dataset>.jsonl + datasets.json   MMEB-eval rows (read by ``vsearch eval``)
    train/<Dataset>.jsonl + datasets.json  MMEB-train rows
    manifest.json                          seed, sizes, canvases, licence
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from train.data import tasks
from train.data.canvas import build_grounding
from train.data.clipart import ClipArt, scan_library

DEFAULT_LIBRARY = Path("/usr/share/openclipart")
DEFAULT_OUT = Path(__file__).resolve().parent / "mini-mmeb"
MAX_SIDE = 512
MIN_SUBCATEGORY = 10
LICENCE = (
    "Public domain (Open Clip Art Library via Debian's openclipart-png/-svg, "
    "CC Public Domain Dedication); the composed canvases and crops are public domain too."
)
#: Per-split caps: rows per label (classification) or per library folder (other tasks).
CAPS = {
    "eval": {"category": 50, "subcategory": 25, "object": 20, "flag": 1000, "retrieval": 25},
    "train": {"category": 300, "subcategory": 150, "object": 60, "flag": 1000, "retrieval": 60},
}
CANDIDATES = 1000


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_arts(
    arts: list[ClipArt], digests: dict[str, str], *, seed: int, eval_percent: int
) -> tuple[list[ClipArt], list[ClipArt]]:
    """``(train, eval)``: by hashed object name, then eval loses anything train also has."""

    def bucket(art: ClipArt) -> int:
        key = f"mini-mmeb:{seed}:{art.name.lower()}".encode()
        return int(hashlib.sha256(key).hexdigest(), 16) % 100

    train = [a for a in arts if bucket(a) >= eval_percent]
    train_digests = {digests[a.rel] for a in train}
    train_captions = {a.caption.lower() for a in train}
    eval_ = [
        a
        for a in arts
        if bucket(a) < eval_percent
        and digests[a.rel] not in train_digests
        and a.caption.lower() not in train_captions
    ]
    return train, eval_


def check_disjoint(train: list[ClipArt], eval_: list[ClipArt], digests: dict[str, str]) -> None:
    """Raise RuntimeError when a picture (path or bytes) or a caption is in both splits."""
    for what, key in (
        ("picture", lambda a: a.rel),
        ("picture bytes", lambda a: digests[a.rel]),
        ("caption", lambda a: a.caption.lower()),
        ("name", lambda a: a.name.lower()),
    ):
        shared = {key(a) for a in train} & {key(a) for a in eval_}
        if shared:
            raise RuntimeError(f"train and eval share {len(shared)} {what}(s), e.g. {min(shared)}")


def labels(arts: list[ClipArt]) -> tuple[dict[str, str], dict[str, str]]:
    """``(category labels, subcategory labels)``: folder key -> label text."""
    categories = {a.category: tasks.humanize(a.category) for a in arts if a.category != "unsorted"}
    counts = Counter(f"{a.category}/{a.subcategory}" for a in arts if a.subcategory)
    subs = sorted(k for k, n in counts.items() if n >= MIN_SUBCATEGORY)
    names = Counter(k.split("/")[1] for k in subs)
    sub_labels = {
        k: tasks.humanize(k.split("/")[1])
        if names[k.split("/")[1]] == 1
        else f"{tasks.humanize(k.split('/')[1])} ({tasks.humanize(k.split('/')[0])})"
        for k in subs
    }
    return dict(sorted(categories.items())), sub_labels


def build_split(
    split: str,
    arts: list[ClipArt],
    library: Path,
    out: Path,
    image: Callable[[ClipArt], str],
    all_arts: list[ClipArt],
    seed: int,
) -> tuple[dict[str, tuple[str, list[dict]]], list[dict]]:
    """Every dataset of one split: name -> (meta-task, rows); and the grounding canvases."""
    train = split == "train"
    caps = CAPS[split]
    rng = lambda name: random.Random(f"{seed}:{split}:{name}")  # noqa: E731
    cat_labels, sub_labels = labels(all_arts)
    data: dict[str, tuple[str, list[dict]]] = {}
    data["OCA-Category"] = (
        "classification",
        tasks.classification(
            arts,
            cat_labels,
            lambda a: a.category,
            image,
            cap=caps["category"],
            rng=rng("category"),
            train=train,
        ),
    )
    data["OCA-Subcategory"] = (
        "classification",
        tasks.classification(
            arts,
            sub_labels,
            lambda a: f"{a.category}/{a.subcategory}",
            image,
            cap=caps["subcategory"],
            rng=rng("subcategory"),
            train=train,
        ),
    )
    for name, question, answer in (
        ("OCA-VQA-Object", tasks.OBJECT_QUESTION, tasks.object_answer),
        ("OCA-VQA-Flag", tasks.FLAG_QUESTION, tasks.flag_answer),
    ):
        key = "object" if name.endswith("Object") else "flag"
        data[name] = (
            "vqa",
            tasks.qa(
                arts,
                question,
                answer,
                image,
                cap=caps[key],
                candidates=CANDIDATES,
                rng=rng(name),
                train=train,
            ),
        )
    if train:
        t2i, i2t = tasks.retrieval_train(arts, image, cap=caps["retrieval"], rng=rng("ret"))
    else:
        t2i, i2t = tasks.retrieval(
            arts, image, cap=caps["retrieval"], queries=CANDIDATES, rng=rng("ret")
        )
    data["OCA-T2I"], data["OCA-I2T"] = ("retrieval", t2i), ("retrieval", i2t)
    pictures = [
        (a.name, a.rel, library / "png" / f"{a.rel}.png") for a in arts if a.title_describes
    ]
    grounding = build_grounding(
        pictures,
        out / "images",
        f"grounding/{split}",
        rng("grounding"),
        train=train,
        candidates=CANDIDATES,
    )
    data["OCA-Grounding"] = ("grounding", grounding.rows)
    return data, grounding.canvases


def export_pictures(arts: list[ClipArt], library: Path, images: Path) -> None:
    """Write each picture as RGB on white, longest side at most ``MAX_SIDE``."""
    for art in arts:
        target = images / "clipart" / f"{art.rel}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(library / "png" / f"{art.rel}.png") as raw:
            rgba = raw.convert("RGBA")
        picture = Image.new("RGB", rgba.size, "white")
        picture.paste(rgba, mask=rgba.getchannel("A"))
        picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        picture.save(target)


def write_split(folder: Path, data: dict[str, tuple[str, list[dict]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (meta_task, rows) in data.items():
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        entries.append(
            {"name": name, "file": f"{name}.jsonl", "meta_task": meta_task, "rows": len(rows)}
        )
    spec = {"image_root": "../images", "datasets": entries}
    (folder / "datasets.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


def build(library: Path, out: Path, *, seed: int = 0, eval_percent: int = 30) -> dict[str, Any]:
    """Build the mini-MMEB under ``out``; returns the manifest it writes.

    Raises:
        FileNotFoundError: the library is not installed. RuntimeError: the splits overlap.
    """
    arts = scan_library(library)
    digests = {a.rel: digest(library / "png" / f"{a.rel}.png") for a in arts}
    train, eval_ = split_arts(arts, digests, seed=seed, eval_percent=eval_percent)
    check_disjoint(train, eval_, digests)
    used: dict[str, ClipArt] = {}

    def image(art: ClipArt) -> str:
        used[art.rel] = art
        return f"clipart/{art.rel}.png"

    manifest: dict[str, Any] = {
        "source": str(library),
        "seed": seed,
        "eval_percent": eval_percent,
        "licence": LICENCE,
        "pictures": {},
        "datasets": {},
    }
    for split, members in (("train", train), ("eval", eval_)):
        data, canvases = build_split(split, members, library, out, image, arts, seed)
        write_split(out / split, data)
        manifest["pictures"][split] = len(members)
        manifest["datasets"][split] = {
            name: {
                "meta_task": t,
                "rows": len(rows),
                "candidates": max((len(r.get("tgt_text", [])) for r in rows), default=0),
            }
            for name, (t, rows) in data.items()
        }
        manifest[f"canvases_{split}"] = canvases
    export_pictures(sorted(used.values(), key=lambda a: a.rel), library, out / "images")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--library",
        type=Path,
        default=DEFAULT_LIBRARY,
        help="folder holding png/ and svg/ (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-percent", type=int, default=30, help="share of names in eval")
    args = parser.parse_args(argv)
    manifest = build(args.library, args.out, seed=args.seed, eval_percent=args.eval_percent)
    print(f"mini-MMEB written to {args.out}: pictures {manifest['pictures']}")
    for split in ("train", "eval"):
        for name, info in manifest["datasets"][split].items():
            cands = f", {info['candidates']} candidates max" if split == "eval" else ""
            print(f"  {split:5} {name:<16} {info['meta_task']:<14} {info['rows']:>5} rows{cands}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
