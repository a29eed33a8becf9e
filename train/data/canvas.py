"""Grounding canvases: 2-4 clip-art pictures on one white canvas, and crops of it.

A picture is trimmed to its opaque pixels and pasted at a random size inside its own cell of a
grid, so objects never overlap and each object's box is exact. Besides the object crops, each
canvas yields random windows (background, parts of objects, several objects) as negatives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

CANVAS_SIZE = (768, 512)
MARGIN = 4
WINDOWS_PER_CANVAS = 6

Box = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass(frozen=True)
class Canvas:
    """A composed canvas: the picture, and per object its name and box."""

    image: Image.Image
    names: tuple[str, ...]
    boxes: tuple[Box, ...]


def opaque_picture(path: Path) -> Image.Image:
    """An RGBA picture cut to the bounding box of its visible pixels.

    Pictures without transparency count pixels that differ from white as visible.
    """
    with Image.open(path) as raw:
        rgba = raw.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] == 255:  # opaque: treat the white background as empty
        alpha = rgba.convert("L").point(lambda v: 255 if v < 250 else 0)
        rgba.putalpha(alpha)
    box = alpha.getbbox()
    return rgba.crop(box) if box else rgba


def _cells(k: int, size: tuple[int, int]) -> list[Box]:
    w, h = size
    if k == 4:
        return [
            (x * w // 2, y * h // 2, (x + 1) * w // 2, (y + 1) * h // 2)
            for y in range(2)
            for x in range(2)
        ]
    return [(i * w // k, 0, (i + 1) * w // k, h) for i in range(k)]


def compose(pictures: list[tuple[str, Image.Image]], rng: random.Random) -> Canvas:
    """Paste 2-4 ``(name, RGBA picture)`` pairs into their own cells of a white canvas.

    Raises:
        ValueError: not 2-4 pictures.
    """
    if not 2 <= len(pictures) <= 4:
        raise ValueError(f"a canvas holds 2-4 pictures, got {len(pictures)}")
    canvas = Image.new("RGB", CANVAS_SIZE, "white")
    boxes = []
    for (_, pic), (left, top, right, bottom) in zip(
        pictures, _cells(len(pictures), CANVAS_SIZE), strict=True
    ):
        cw, ch = right - left - 2 * MARGIN, bottom - top - 2 * MARGIN
        scale = rng.uniform(0.55, 0.95) * min(cw / pic.width, ch / pic.height)
        w, h = max(8, round(pic.width * scale)), max(8, round(pic.height * scale))
        x = left + MARGIN + rng.randint(0, cw - w)
        y = top + MARGIN + rng.randint(0, ch - h)
        resized = pic.resize((w, h), Image.Resampling.LANCZOS)
        canvas.paste(resized, (x, y), resized)
        boxes.append((x, y, x + w, y + h))
    return Canvas(canvas, tuple(n for n, _ in pictures), tuple(boxes))


def object_crop(canvas: Canvas, index: int) -> Image.Image:
    """The crop around object ``index`` with a small margin."""
    left, top, right, bottom = canvas.boxes[index]
    w, h = canvas.image.size
    return canvas.image.crop(
        (
            max(0, left - MARGIN),
            max(0, top - MARGIN),
            min(w, right + MARGIN),
            min(h, bottom + MARGIN),
        )
    )


def random_windows(canvas: Canvas, rng: random.Random, n: int = WINDOWS_PER_CANVAS) -> list[Box]:
    """``n`` windows of 25-60% of the canvas side at random places (negatives)."""
    w, h = canvas.image.size
    windows = []
    for _ in range(n):
        ww, wh = round(w * rng.uniform(0.25, 0.6)), round(h * rng.uniform(0.25, 0.6))
        x, y = rng.randint(0, w - ww), rng.randint(0, h - wh)
        windows.append((x, y, x + ww, y + wh))
    return windows


@dataclass(frozen=True)
class GroundingSet:
    """Rows of one split's grounding task and what each canvas holds (for the manifest)."""

    rows: list[dict]
    canvases: list[dict]


def group_pictures(names: list[str], rng: random.Random) -> list[list[int]]:
    """Indices of ``names`` in random groups of 2-4 with distinct names (case-insensitive)."""
    order = list(range(len(names)))
    rng.shuffle(order)
    groups: list[list[int]] = []
    current: list[int] = []
    target = rng.randint(2, 4)
    for i in order:
        if names[i].lower() in {names[j].lower() for j in current}:
            continue
        current.append(i)
        if len(current) == target:
            groups.append(current)
            current, target = [], rng.randint(2, 4)
    if len(current) >= 2:
        groups.append(current)
    return groups


def build_grounding(
    pictures: list[tuple[str, str, Path]],
    out_root: Path,
    prefix: str,
    rng: random.Random,
    *,
    train: bool,
    candidates: int = 1000,
) -> GroundingSet:
    """Compose canvases from ``(name, source id, picture path)`` and write rows and images.

    Eval rows: the query names one object of a canvas; the candidates are that object's crop
    (first), the canvas's other objects and random windows, then crops of other canvases up to
    ``candidates``. Train rows: the object's crop is positive, another object of the same canvas
    is the hard negative. Image paths in rows are relative to ``out_root``.
    """
    (out_root / prefix).mkdir(parents=True, exist_ok=True)
    crops_of: list[list[str]] = []
    windows_of: list[list[str]] = []
    canvases: list[dict] = []
    for c, group in enumerate(group_pictures([p[0] for p in pictures], rng)):
        canvas = compose([(pictures[i][0], opaque_picture(pictures[i][2])) for i in group], rng)
        stem = f"{prefix}/c{c:05d}"
        canvas.image.save(out_root / f"{stem}.png")
        crops = []
        for j in range(len(group)):
            object_crop(canvas, j).save(out_root / f"{stem}_o{j}.png")
            crops.append(f"{stem}_o{j}.png")
        windows = []
        for j, box in enumerate([] if train else random_windows(canvas, rng)):
            canvas.image.crop(box).save(out_root / f"{stem}_w{j}.png")
            windows.append(f"{stem}_w{j}.png")
        crops_of.append(crops)
        windows_of.append(windows)
        canvases.append(
            {
                "canvas": f"{stem}.png",
                "objects": [
                    {"name": n, "source": pictures[i][1], "box": list(b)}
                    for i, n, b in zip(group, canvas.names, canvas.boxes, strict=True)
                ],
            }
        )
    rows = _grounding_rows(canvases, crops_of, windows_of, rng, train=train, candidates=candidates)
    return GroundingSet(rows, canvases)


def _grounding_rows(
    canvases: list[dict],
    crops_of: list[list[str]],
    windows_of: list[list[str]],
    rng: random.Random,
    *,
    train: bool,
    candidates: int,
) -> list[dict]:
    """One row per object of every canvas; see ``build_grounding``."""
    from train.data.tasks import CROP_TARGET, GROUNDING_QUERY, eval_row, train_row

    rows = []
    for c, meta in enumerate(canvases):
        for j, obj in enumerate(meta["objects"]):
            query = GROUNDING_QUERY.format(name=obj["name"])
            own = crops_of[c][:j] + crops_of[c][j + 1 :]
            if train:
                rows.append(
                    train_row(
                        query,
                        meta["canvas"],
                        (CROP_TARGET, crops_of[c][j]),
                        (CROP_TARGET, rng.choice(own)),
                    )
                )
                continue
            negatives = own + windows_of[c]
            pool = [p for k in range(len(canvases)) if k != c for p in crops_of[k] + windows_of[k]]
            negatives += rng.sample(pool, min(len(pool), candidates - 1 - len(negatives)))
            targets = [(CROP_TARGET, p) for p in [crops_of[c][j], *negatives]]
            rows.append(eval_row(query, meta["canvas"], targets))
    return rows
