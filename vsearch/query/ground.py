"""Visual grounding: which region of an image shows "the man on the left".

Candidate regions are a multi-scale grid of overlapping windows (or boxes the caller passes).
MMEB grounding embeds the whole image with 'Select the portion of the image that isolates the
object labeled as "{x}"' and each crop with "Represent the given cropped image of the object.";
the best-scoring crops, after non-maximum suppression, are the answer. An exemplar image (a crop
of what to find) can stand in for the phrase; it is embedded like the crops.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from vsearch.atomic import atomic_path
from vsearch.encoders.base import Encoder, Item
from vsearch.encoders.instructions import TASKS
from vsearch.errors import QueryError, UnsupportedInput
from vsearch.query.search import load_image

Box = tuple[int, int, int, int]  # left, top, right, bottom; pixels of the oriented image
DEFAULT_SCALES = (0.75, 0.5, 0.33)
FULL_SIZE = 1 << 16  # decode at full resolution: boxes are in the image's own pixels


@dataclass(frozen=True)
class Region:
    """A box of the image and how well it matches the query."""

    box: Box
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "score": round(self.score, 6)}


def candidate_boxes(
    width: int, height: int, *, scales: Sequence[float] = DEFAULT_SCALES, overlap: float = 0.5
) -> list[Box]:
    """Sliding windows at each scale (a fraction of each side), ``overlap`` apart, edges covered.

    Returns:
        Distinct boxes, largest scale first.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    boxes: dict[Box, None] = {}
    for scale in scales:
        if not 0 < scale <= 1:
            raise ValueError(f"scales must be in (0, 1], got {scale}")
        bw, bh = max(1, round(width * scale)), max(1, round(height * scale))
        xs = _starts(width, bw, overlap)
        ys = _starts(height, bh, overlap)
        boxes.update({(x, y, x + bw, y + bh): None for y in ys for x in xs})
    return list(boxes)


def _starts(side: int, window: int, overlap: float) -> list[int]:
    step = max(1, round(window * (1 - overlap)))
    starts = list(range(0, side - window + 1, step))
    if starts[-1] != side - window:
        starts.append(side - window)
    return starts


def _check_boxes(boxes: Sequence[Sequence[int]], width: int, height: int) -> list[Box]:
    checked = []
    for box in boxes:
        left, top, right, bottom = (int(v) for v in box)
        if not (0 <= left < right <= width and 0 <= top < bottom <= height):
            raise QueryError(
                f"box {left},{top},{right},{bottom} is not inside the {width}x{height} image "
                "(write LEFT,TOP,RIGHT,BOTTOM in pixels)"
            )
        checked.append((left, top, right, bottom))
    return checked


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices of the boxes kept, best first: each drops the later ones overlapping it > ``iou``.

    Args:
        boxes: ``(m, 4)`` (left, top, right, bottom).
        scores: ``(m,)``.
    """
    boxes = boxes.astype(np.float64)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = list(np.argsort(-scores, kind="stable"))
    kept = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=np.int64)
        kept.append(int(best))
        if not len(rest):
            break
        lt = np.maximum(boxes[best, :2], boxes[rest, :2])
        rb = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        overlap = inter / (area[best] + area[rest] - inter)
        order = [int(i) for i in rest[overlap <= iou]]
    return kept


def grounding_query(phrase: str, template: str | None = None) -> tuple[str, str]:
    """Split the grounding template around ``{x}`` into (instruction prefix, item text).

    Encoders place the instruction before the item's text, so the pair reads as the MMEB query
    ('... labeled as' + '"the man on the left"'), and encoders that ignore instructions still
    see the phrase.
    """
    template = template or TASKS["grounding"].query
    if "{x}" not in template:
        return template, phrase
    head, _, tail = template.partition("{x}")
    instruction = head.rstrip(' "')
    return instruction, f"{head[len(instruction) :].lstrip()}{phrase}{tail}"


def ground(
    encoder: Encoder,
    image: str | os.PathLike[str] | Image.Image,
    phrase: str | None = None,
    *,
    like: str | os.PathLike[str] | Image.Image | None = None,
    boxes: Sequence[Sequence[int]] | None = None,
    top: int = 3,
    iou: float = 0.5,
    instruction: str | None = None,
    context: bool | None = None,
) -> list[Region]:
    """The regions of ``image`` that best match ``phrase`` (or the exemplar ``like``).

    Args:
        encoder: any encoder.
        image: the image to search in.
        phrase: what to find, e.g. "the man on the left".
        like: an exemplar image of what to find, instead of a phrase.
        boxes: candidate boxes (left, top, right, bottom); default: a multi-scale grid.
        top: how many regions to return.
        iou: overlap above which a lower-scoring box is dropped as a duplicate (1: keep all).
        instruction: overrides the grounding instruction (``{x}`` is the phrase).
        context: embed the whole image with the phrase (MMEB grounding), or the instructed
            phrase alone. Default: the encoder's ``grounds_in_context``. label-bridge ignores
            instructions, so it cannot tell "find X in this image" from "this image" and would
            favour crops that look like the whole picture; mini's in-context query was trained
            on clip art only and finds the phrase's half of a real photo pair less often than
            the phrase alone does (56 % vs 82 %, README).

    Returns:
        Up to ``top`` regions, best first, in the pixels of the (EXIF-oriented) image.
    """
    if (phrase is None or not phrase.strip()) == (like is None):
        raise QueryError("give what to find: a phrase or an exemplar image (not both)")
    picture = load_image(image, FULL_SIZE)
    width, height = picture.size
    candidates = _check_boxes(boxes, width, height) if boxes else candidate_boxes(width, height)
    target = TASKS["grounding"].target
    if like is not None:
        query_emb = encoder.encode(
            [Item(image=_capped(load_image(like, FULL_SIZE), encoder))], target
        )
    else:
        prefix, text = grounding_query(str(phrase).strip(), instruction)
        if context is None:
            context = encoder.grounds_in_context
        whole = _capped(picture, encoder) if context else None
        query_emb = encoder.encode([Item(image=whole, text=text)], prefix)
    crops = [Item(image=_capped(picture.crop(b), encoder)) for b in candidates]
    scores = encoder.encode(crops, target) @ query_emb[0]
    kept = non_max_suppression(np.array(candidates), scores, iou)[: max(1, top)]
    return [Region(candidates[i], float(scores[i])) for i in kept]


def _capped(image: Image.Image, encoder: Encoder) -> Image.Image:
    if max(image.size) <= encoder.max_image_side:
        return image
    copy = image.copy()
    copy.thumbnail((encoder.max_image_side, encoder.max_image_side), Image.Resampling.LANCZOS)
    return copy


def draw_regions(
    image: str | os.PathLike[str] | Image.Image,
    regions: Sequence[Region],
    out: str | os.PathLike[str],
) -> Path:
    """Write ``image`` with ``regions`` drawn (best in red, others in yellow) to ``out``.

    Raises:
        UnsupportedInput: ``out`` cannot be written (folder missing, unknown format).
    """
    picture = load_image(image, FULL_SIZE).copy()
    draw = ImageDraw.Draw(picture)
    line = max(2, min(picture.size) // 150)
    for rank, region in reversed(list(enumerate(regions))):
        colour = (255, 0, 0) if rank == 0 else (255, 210, 0)
        draw.rectangle(region.box, outline=colour, width=line)
        draw.text(
            (region.box[0] + line + 1, region.box[1] + line), f"{region.score:.3f}", fill=colour
        )
    path = Path(out)
    try:
        image_format = Image.registered_extensions().get(path.suffix.lower())
        if image_format is None:
            raise ValueError(f"unknown image extension {path.suffix!r}")
        with atomic_path(path) as tmp:
            picture.save(tmp, format=image_format)
    except (OSError, ValueError) as exc:
        raise UnsupportedInput(f"cannot write {path}: {exc}") from exc
    return path
