"""The task commands: rank, ground, classify, similar, dupes (thin, like the rest of the CLI).

``--answers a b c`` and ``--labels a b c`` take every word up to the next option, which Click
options cannot do; their commands (``_ListOptionsCommand``) rewrite them as ``--labels a
--labels b --labels c`` before Click parses, so they are ordinary repeatable options in help.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vsearch.cli import (
    Command,
    CountOption,
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
    _settings,
    app,
)
from vsearch.display import printable
from vsearch.errors import QueryError, VsearchError

if TYPE_CHECKING:
    from vsearch.cli import Context
    from vsearch.query import Classification

#: Options that take every word up to the next option.
LIST_OPTIONS = ("--labels", "--answers")
InstructionOption = Annotated[
    str | None,
    typer.Option(metavar="TEXT", help="Override the task's instruction template."),
]


def spread_list_options(args: list[str]) -> list[str]:
    """``[--labels, a, b, --json]`` -> ``[--labels, a, --labels, b, --json]``."""
    out: list[str] = []
    current = None
    for arg in args:
        if arg in LIST_OPTIONS:
            current = arg
            continue
        if arg.startswith("-") and arg != "-":
            current = None
        elif current is not None:
            out.append(current)
        out.append(arg)
    return out


class _ListOptionsCommand(Command):
    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_list_options(args))


def _encoder(model: str | None, device: str | None) -> Any:
    """The encoder a command without an index uses: the flag, else the configured model."""
    from vsearch.encoders import load_encoder

    settings = _settings(model=model, device=device)
    return load_encoder(settings["model"], **_encoder_options(settings["device"], None, None))


def _count(k: int | None, old: int | None, default: int) -> int:
    """``-k``, or the old name of it (hidden), or the default."""
    return k if k is not None else old if old is not None else default


def _choices(given: list[str], path: Path | None) -> list[str]:
    from vsearch.query import read_choices

    return given + (read_choices(path) if path else [])


@app.command(cls=_ListOptionsCommand)
def rank(
    image: Annotated[Path, typer.Option("--image", metavar="FILE", help="The image asked about.")],
    question: Annotated[
        str, typer.Option("--question", "-q", metavar="TEXT", help="The question.")
    ],
    answers: Annotated[
        list[str] | None,
        typer.Option(
            "--answers", metavar="ANSWER...", help="The candidate answers: every word after it."
        ),
    ] = None,
    answers_file: Annotated[
        Path | None, typer.Option(metavar="FILE", help="More answers, one per line.")
    ] = None,
    instruction: InstructionOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    as_json: JsonOption = False,
) -> None:
    """VQA: rank candidate answers to a question about an image."""
    from vsearch.query import rank_answers

    try:
        choices = _choices(answers or [], answers_file)
        ranked = rank_answers(
            _encoder(model, device), image, question, choices, instruction=instruction
        )
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    for position, scored in enumerate(ranked, 1):
        row = {"rank": position, **scored.to_dict()}
        typer.echo(
            json.dumps(row) if as_json else f"{position:>4}  {scored.score:6.3f}  {scored.label}"
        )


@app.command(cls=Command)
def ground(
    words: Annotated[
        list[str] | None,
        typer.Argument(
            help='IMAGE PHRASE, or PHRASE with --image: what to find, "the man on the left".',
            show_default=False,
        ),
    ] = None,
    image: Annotated[
        Path | None, typer.Option("--image", metavar="FILE", help="The image to search in.")
    ] = None,
    like: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="An exemplar image of what to find, instead of a phrase."
        ),
    ] = None,
    box: Annotated[
        list[str] | None,
        typer.Option(
            metavar="L,T,R,B",
            help="Candidate box LEFT,TOP,RIGHT,BOTTOM in pixels (repeatable); "
            "default: a multi-scale grid of windows.",
        ),
    ] = None,
    k: Annotated[
        int | None, typer.Option("-k", metavar="N", min=1, help="Number of regions [default: 3].")
    ] = None,
    top: Annotated[int | None, typer.Option("--top", hidden=True, min=1)] = None,
    draw: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write the image with the boxes drawn.")
    ] = None,
    instruction: InstructionOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Visual grounding: the regions of an image that best match a phrase (or --like image)."""
    from vsearch.query import draw_regions
    from vsearch.query import ground as ground_regions

    try:
        image, phrase = _image_and_phrase(image, list(words or []))
        boxes = [_box(b) for b in box or []]
        regions = ground_regions(
            _encoder(model, device),
            image,
            phrase,
            like=like,
            boxes=boxes,
            top=_count(k, top, 3),
            instruction=instruction,
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


def _image_and_phrase(image: Path | None, words: list[str]) -> tuple[Path, str | None]:
    """``ground IMAGE PHRASE`` or ``ground --image IMAGE PHRASE``."""
    if image is None:
        if not words:
            raise QueryError("give the image to search in: ground IMAGE PHRASE (or --image)")
        image = Path(words.pop(0))
    if len(words) > 1:
        raise QueryError(f"one phrase only; quote it: {' '.join(words)!r}")
    return image, (words[0] if words else None)


def _box(text: str) -> tuple[int, int, int, int]:
    try:
        left, top, right, bottom = (int(v) for v in text.split(","))
    except ValueError:
        raise QueryError(f"--box {text}: write LEFT,TOP,RIGHT,BOTTOM in pixels") from None
    return left, top, right, bottom


@app.command(cls=_ListOptionsCommand)
def classify(
    files: Annotated[
        list[str] | None,
        typer.Argument(help="Images to classify; none: the index's items.", show_default=False),
    ] = None,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", metavar="FILE", help="An image to classify (repeatable)."),
    ] = None,
    labels: Annotated[
        list[str] | None,
        typer.Option("--labels", metavar="LABEL...", help="The labels: every word after it."),
    ] = None,
    labels_file: Annotated[
        Path | None, typer.Option(metavar="FILE", help="More labels, one per line.")
    ] = None,
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
        images = [*(files or []), *(image or [])]
        choices = _choices(labels or [], labels_file)
        if images:
            encoder = _encoder(model, device)
            results = classify_images(encoder, images, choices, instruction=instruction)
        else:
            results = _classify_index(index, choices, where, instruction, model, device)
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

    settings = _settings(index=index, device=device)
    options = _encoder_options(settings["device"], None, None)
    with Index.open(settings["index"], encoder=model, **options) as idx:
        return classify_items(idx, labels, filters=where or [], instruction=instruction)


@app.command(cls=Command)
def similar(
    path: Annotated[
        str, typer.Argument(help="An indexed file (a path to it, or relative to its folder).")
    ],
    k: CountOption = 10,
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
        with Index.open(_settings(index=index)["index"]) as idx:
            hits = similar_items(idx, path, k=k, filters=where or [], min_score=min_score)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    records = [{"rank": r, **h.to_dict()} for r, h in enumerate(hits, 1)]
    _print_hits(hits, records, as_json=as_json, paths=paths)


@app.command(cls=Command)
def dupes(
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score",
            metavar="SCORE",
            help="Cosine similarity at which two items are duplicates [default: 0.95].",
        ),
    ] = None,
    threshold: Annotated[float | None, typer.Option("--threshold", hidden=True)] = None,
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

    cut = min_score if min_score is not None else threshold if threshold is not None else 0.95
    try:
        with Index.open(_settings(index=index)["index"]) as idx:
            groups = find_duplicates(idx, threshold=cut, filters=where or [])
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
        typer.echo(f"no duplicates at --min-score {cut}", err=True)
