"""MMEB rows for the four meta-tasks, built from one split's clip art.

Eval rows use MMEB-eval's fields (``qry_text, qry_img_path, tgt_text[], tgt_img_path[]``, gold
first); train rows use MMEB-train's (``qry, qry_image_path, pos_text, pos_image_path, neg_text,
neg_image_path``). Texts carry MMEB's instructions and ``<|image_1|>`` placeholder, as MMEB does.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from train.data.clipart import ClipArt
from vsearch.encoders.instructions import task

IMG = "<|image_1|>\n"
CLS_QUERY = IMG + task("classification").query + "\n"
VQA_QUERY = IMG + task("vqa").query + " {question}\n"
T2I_QUERY = task("retrieval").query + " {caption}\n"
IMAGE_TARGET = IMG + task("retrieval").target + "\n"
#: MMEB's MSCOCO_i2t query instruction.
I2T_QUERY = IMG + "Find an image caption describing the given everyday image.\n"
GROUNDING_QUERY = IMG + task("grounding").query.replace("{x}", "{name}") + "\n"
CROP_TARGET = IMG + task("grounding").target + "\n"

OBJECT_QUESTION = "What is shown in the image?"
FLAG_QUESTION = "Which flag is shown in the image?"
FLAG_FOLDERS = ("africa", "america", "asia", "europe", "oceania")

Row = dict[str, Any]
ImagePath = Callable[[ClipArt], str]


def eval_row(qry_text: str, qry_img: str, targets: list[tuple[str, str]]) -> Row:
    """An MMEB-eval row; ``targets`` are ``(text, image path)`` pairs, gold first."""
    return {
        "qry_text": qry_text,
        "qry_img_path": qry_img,
        "tgt_text": [t for t, _ in targets],
        "tgt_img_path": [p for _, p in targets],
    }


def train_row(qry: str, qry_img: str, pos: tuple[str, str], neg: tuple[str, str] = ("", "")) -> Row:
    """An MMEB-train row; ``pos``/``neg`` are ``(text, image path)``, "" meaning none."""
    return {
        "qry": qry,
        "qry_image_path": qry_img,
        "pos_text": pos[0],
        "pos_image_path": pos[1],
        "neg_text": neg[0],
        "neg_image_path": neg[1],
    }


def humanize(folder: str) -> str:
    """``signs_and_symbols`` -> ``signs and symbols``."""
    return re.sub(r"[_-]+", " ", folder).strip()


def cap_per_group(
    arts: Iterable[ClipArt], key: Callable[[ClipArt], str], cap: int, rng: random.Random
) -> list[ClipArt]:
    """At most ``cap`` arts per group, picked at random, returned in path order."""
    groups: dict[str, list[ClipArt]] = defaultdict(list)
    for art in arts:
        groups[key(art)].append(art)
    kept = []
    for name in sorted(groups):
        members = sorted(groups[name], key=lambda a: a.rel)
        kept += rng.sample(members, min(cap, len(members)))
    return sorted(kept, key=lambda a: a.rel)


def leaf_folder(art: ClipArt) -> str:
    return art.rel.rsplit("/", 1)[0]


def classification(
    arts: list[ClipArt],
    labels: dict[str, str],
    label_of: Callable[[ClipArt], str | None],
    image: ImagePath,
    *,
    cap: int,
    rng: random.Random,
    train: bool,
) -> list[Row]:
    """Image -> its folder label. ``labels``: folder key -> label text (the candidate set)."""
    keyed = [a for a in arts if label_of(a) in labels]
    picked = cap_per_group(keyed, lambda a: label_of(a) or "", cap, rng)
    ordered = sorted(labels.values())
    rows = []
    for art in picked:
        gold = labels[label_of(art) or ""]
        if train:
            rows.append(train_row(CLS_QUERY, image(art), (gold, "")))
        else:
            others = [(t, "") for t in ordered if t != gold]
            rows.append(eval_row(CLS_QUERY, image(art), [(gold, ""), *others]))
    return rows


def qa(
    arts: list[ClipArt],
    question: str,
    answer_of: Callable[[ClipArt], str | None],
    image: ImagePath,
    *,
    cap: int,
    candidates: int,
    rng: random.Random,
    train: bool,
) -> list[Row]:
    """Image + question -> the answer the metadata gives, against other pictures' answers."""
    with_answer = [a for a in arts if answer_of(a)]
    picked = cap_per_group(with_answer, leaf_folder, cap, rng)
    pool = sorted({(answer_of(a) or "").lower(): answer_of(a) or "" for a in picked}.values())
    query = VQA_QUERY.format(question=question)
    rows = []
    for art in picked:
        gold = answer_of(art) or ""
        if train:
            rows.append(train_row(query, image(art), (gold, "")))
            continue
        others = [p for p in pool if p.lower() != gold.lower()]
        others = rng.sample(others, min(candidates - 1, len(others)))
        rows.append(eval_row(query, image(art), [(gold, ""), *((o, "") for o in others)]))
    return rows


def object_answer(art: ClipArt) -> str | None:
    """The object's name, only when the title really names the picture."""
    return art.name if art.title_describes else None


def flag_answer(art: ClipArt) -> str | None:
    """The flag's country or region from its title or file name; None for other pictures."""
    parts = art.rel.split("/")
    in_flags = parts[:2] == ["signs_and_symbols", "flags"] and len(parts) >= 4
    if not in_flags or parts[2] not in FLAG_FOLDERS:
        return None
    answer = re.sub(r"\bflags?\b", "", art.name, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", answer).strip(" -") or None


def retrieval(
    arts: list[ClipArt], image: ImagePath, *, cap: int, queries: int, rng: random.Random
) -> tuple[list[Row], list[Row]]:
    """Caption -> image and image -> caption over pictures whose caption is unique.

    Returns:
        ``(t2i_rows, i2t_rows)``, each query against ``queries`` candidates (gold + the others).
    """
    counts: dict[str, int] = defaultdict(int)
    for art in arts:
        counts[art.caption.lower()] += 1
    unique = [a for a in arts if counts[a.caption.lower()] == 1]
    picked = cap_per_group(unique, leaf_folder, cap, rng)
    picked = sorted(rng.sample(picked, min(queries, len(picked))), key=lambda a: a.rel)
    t2i, i2t = [], []
    for art in picked:
        others = [o for o in picked if o is not art]
        t2i.append(
            eval_row(
                T2I_QUERY.format(caption=art.caption),
                "",
                [(IMAGE_TARGET, image(o)) for o in [art, *others]],
            )
        )
        i2t.append(eval_row(I2T_QUERY, image(art), [(o.caption, "") for o in [art, *others]]))
    return t2i, i2t


def retrieval_train(
    arts: list[ClipArt], image: ImagePath, *, cap: int, rng: random.Random
) -> tuple[list[Row], list[Row]]:
    """MMEB-train rows for both retrieval directions, one pair per uniquely captioned picture."""
    counts: dict[str, int] = defaultdict(int)
    for art in arts:
        counts[art.caption.lower()] += 1
    picked = cap_per_group(
        [a for a in arts if counts[a.caption.lower()] == 1], leaf_folder, cap, rng
    )
    t2i = [
        train_row(T2I_QUERY.format(caption=a.caption), "", (IMAGE_TARGET, image(a))) for a in picked
    ]
    i2t = [train_row(I2T_QUERY, image(a), (a.caption, "")) for a in picked]
    return t2i, i2t
