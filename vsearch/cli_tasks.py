"""The task commands: rank, ground, classify, similar, dupes (thin, like the rest of the CLI).

``--answers a b c`` and ``--labels a b c`` take every word up to the next option, which Click
options cannot do; these commands therefore collect their positional words and split them at
that marker (``_split_marker``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vsearch import config
from vsearch.cli import (
    DeviceOption,
    IndexOption,
    JsonOption,
    MinScoreOption,
    ModelOption,
    PathsOption,
    WhereOption,
    _encoder_options,
    _fail,
    _hit_columns,
    _print_hits,
    app,
)
from vsearch.display import printable
from vsearch.errors import QueryError, VsearchError

if TYPE_CHECKING:
    from vsearch.query import Classification

_WORDS = {"ignore_unknown_options": True}
InstructionOption = Annotated[
    str | None, typer.Option(help="Override the task's instruction template.")
]


def _split_marker(words: list[str] | None, marker: str) -> tuple[list[str], list[str]]:
    """``[a, b, MARKER, c, d]`` -> ``([a, b], [c, d])``; any other ``--option`` is an error."""
    words = list(words or [])
    stray = [w for w in words if w.startswith("--") and w != marker]
    if stray:
        raise QueryError(f"no such option: {stray[0]} (see --help)")
    if marker not in words:
        return words, []
    at = words.index(marker)
    return words[:at], words[at + 1 :]


def _choices(given: list[str], path: Path | None) -> list[str]:
    from vsearch.query import read_choices

    return given + (read_choices(path) if path else [])


@app.command(context_settings=_WORDS)
def rank(
    image: Annotated[Path, typer.Option("--image", help="The image asked about.")],
    question: Annotated[str, typer.Option("--question", "-q", help="The question.")],
    answers: Annotated[
        list[str] | None, typer.Argument(help="--answers A B C: the candidate answers.")
    ] = None,
    answers_file: Annotated[Path | None, typer.Option(help="More answers, one per line.")] = None,
    instruction: InstructionOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    as_json: JsonOption = False,
) -> None:
    """VQA: rank candidate answers to a question about an image."""
    from vsearch.encoders import load_encoder
    from vsearch.query import rank_answers

    try:
        extra, listed = _split_marker(answers, "--answers")
        choices = _choices(extra + listed, answers_file)
        encoder = load_encoder(model, **_encoder_options(device, None, None))
        ranked = rank_answers(encoder, image, question, choices, instruction=instruction)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    for position, scored in enumerate(ranked, 1):
        row = {"rank": position, **scored.to_dict()}
        typer.echo(
            json.dumps(row) if as_json else f"{position:>4}  {scored.score:6.3f}  {scored.label}"
        )


@app.command()
def ground(
    image: Annotated[Path, typer.Argument(help="The image to search in.")],
    phrase: Annotated[
        str | None, typer.Argument(help='What to find: "the man on the left".')
    ] = None,
    like: Annotated[
        Path | None, typer.Option(help="An exemplar image of what to find, instead of a phrase.")
    ] = None,
    box: Annotated[
        list[str] | None,
        typer.Option(
            help="Candidate box LEFT,TOP,RIGHT,BOTTOM in pixels (repeatable); "
            "default: a multi-scale grid of windows."
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="How many regions.")] = 3,
    draw: Annotated[Path | None, typer.Option(help="Write the image with the boxes drawn.")] = None,
    instruction: InstructionOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Visual grounding: the regions of an image that best match a phrase."""
    from vsearch.encoders import load_encoder
    from vsearch.query import draw_regions
    from vsearch.query import ground as ground_regions

    try:
        boxes = [_box(b) for b in box or []]
        encoder = load_encoder(model, **_encoder_options(device, None, None))
        regions = ground_regions(
            encoder, image, phrase, like=like, boxes=boxes, top=top, instruction=instruction
        )
        if draw is not None:
            draw_regions(image, regions, draw)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    for position, region in enumerate(regions, 1):
        row = {"rank": position, **region.to_dict()}
        box_text = ",".join(str(v) for v in region.box)
        typer.echo(
            json.dumps(row) if as_json else f"{position:>4}  {region.score:6.3f}  {box_text}"
        )


def _box(text: str) -> tuple[int, int, int, int]:
    try:
        left, top, right, bottom = (int(v) for v in text.split(","))
    except ValueError:
        raise QueryError(f"--box {text}: write LEFT,TOP,RIGHT,BOTTOM in pixels") from None
    return left, top, right, bottom


@app.command(context_settings=_WORDS)
def classify(
    images: Annotated[
        list[str] | None,
        typer.Argument(help="Images, then --labels A B C; no images: the index's items."),
    ] = None,
    labels_file: Annotated[Path | None, typer.Option(help="More labels, one per line.")] = None,
    where: WhereOption = None,
    instruction: InstructionOption = None,
    index: IndexOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Zero-shot classification of images, or of the items of an index, among labels."""
    from vsearch.query import classify_images

    try:
        files, listed = _split_marker(images, "--labels")
        labels = _choices(listed, labels_file)
        if files:
            from vsearch.encoders import load_encoder

            encoder = load_encoder(model, **_encoder_options(device, None, None))
            results = classify_images(encoder, files, labels, instruction=instruction)
        else:
            results = _classify_index(index, labels, where, instruction, model, device)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    for result in results:
        line = f"{result.score:6.3f}  {result.label:<20}  {printable(result.source)}"
        typer.echo(json.dumps(result.to_dict()) if as_json else line)


def _classify_index(
    index: Path | None,
    labels: list[str],
    where: list[str] | None,
    instruction: str | None,
    model: str | None,
    device: str | None,
) -> list[Classification]:
    from vsearch.index import Index
    from vsearch.query import classify_items

    options = _encoder_options(device, None, None)
    with Index.open(index or config.default_index_path(), encoder=model, **options) as idx:
        return classify_items(idx, labels, filters=where or [], instruction=instruction)


@app.command()
def similar(
    path: Annotated[str, typer.Argument(help="An indexed file (path under the root).")],
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    where: WhereOption = None,
    min_score: MinScoreOption = None,
    index: IndexOption = None,
    as_json: JsonOption = False,
    paths: PathsOption = False,
) -> None:
    """Items most like an indexed one, by its stored vector (nothing is re-encoded)."""
    from vsearch.index import Index
    from vsearch.query import similar as similar_items

    try:
        with Index.open(index or config.default_index_path()) as idx:
            hits = similar_items(idx, path, k=k, filters=where or [], min_score=min_score)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    records = [{"rank": r, **h.to_dict()} for r, h in enumerate(hits, 1)]
    _print_hits(hits, records, as_json=as_json, paths=paths)


@app.command()
def dupes(
    threshold: Annotated[
        float, typer.Option(help="Cosine similarity at which two items are duplicates.")
    ] = 0.95,
    where: WhereOption = None,
    index: IndexOption = None,
    as_json: JsonOption = False,
    paths: Annotated[
        bool,
        typer.Option(
            "--paths",
            help="Print the copies to delete: all but each group's first, the copy to keep.",
        ),
    ] = False,
) -> None:
    """Groups of near-duplicate items, from the stored vectors.

    Each group leads with the copy to keep: the highest resolution, then the largest file, then
    the oldest; so --paths (all but the first) never lists the original.
    """
    from vsearch.index import Index
    from vsearch.query import find_duplicates

    try:
        with Index.open(index or config.default_index_path()) as idx:
            groups = find_duplicates(idx, threshold=threshold, filters=where or [])
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    for number, group in enumerate(groups, 1):
        if as_json:
            typer.echo(json.dumps({"group": number, "items": [h.to_dict() for h in group]}))
        elif paths:
            typer.echo("\n".join(printable(h.abspath) for h in group[1:]))
        else:
            typer.echo(f"group {number} ({len(group)} items)")
            for hit in group:
                typer.echo(f"  {hit.score:6.3f}  {_hit_columns(hit)}")
    if not groups and not as_json and not paths:
        typer.echo(f"no duplicates at threshold {threshold}", err=True)
