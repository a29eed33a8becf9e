"""The ``vsearch`` command: a thin shell over the library (parse, call one function, render)."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

try:  # typer 0.2x carries its own copy of click, whose errors these are
    from typer._click import Context
    from typer._click.exceptions import UsageError
except ImportError:  # typer that uses click itself
    from click import Context
    from click.exceptions import UsageError

from vsearch import config
from vsearch.display import printable
from vsearch.errors import VsearchError
from vsearch.parts import anchor_of

app = typer.Typer(
    help="Multimodal vector search: ingest folders, then query them with text and images.",
    no_args_is_help=True,
    rich_markup_mode=None,  # help text is printed as written: [brackets] are not markup
    pretty_exceptions_enable=False,
)
_state = {"debug": False}

IndexOption = Annotated[
    Path | None,
    typer.Option(
        "--index",
        "-i",
        metavar="PATH",
        help="Index folder [env VSEARCH_INDEX; default: indexes/default in the user data "
        "folder, or the config file's; see `vsearch config`].",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME",
        help="Encoder: a name (mini, label-bridge), a model folder or hub id [env "
        "VSEARCH_MODEL, for new indexes and index-free commands].",
    ),
]
DeviceOption = Annotated[
    str | None,
    typer.Option(metavar="DEVICE", help="Encoder device: cpu, cuda, cuda:1 [env VSEARCH_DEVICE]."),
]
DtypeOption = Annotated[
    str | None, typer.Option(metavar="DTYPE", help="Encoder dtype: float32, bfloat16.")
]
BatchOption = Annotated[
    int | None,
    typer.Option(
        "--batch-size", metavar="N", help="Items per encoder call [env VSEARCH_BATCH_SIZE]."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine output (NDJSON) on stdout.")]
CountOption = Annotated[int, typer.Option("-k", metavar="N", min=1, help="Number of results.")]


class Command(TyperCommand):
    """A command whose misuse (unknown option, bad value) is one line on stderr, exit code 1."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            message = exc.format_message()
            typer.echo(f"error: {message[:1].lower()}{message[1:]} (see --help)", err=True)
            raise typer.Exit(1) from None


def _version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        typer.echo(f"vsearch {version('vsearch')}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    _state["debug"] = debug
    _show_library_warnings()


class _StderrLines(logging.Handler):
    """The library's warnings (a rebuilt FAISS file, an upgraded index) as lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _show_library_warnings() -> None:
    logger = logging.getLogger("vsearch")
    if not any(isinstance(h, _StderrLines) for h in logger.handlers):
        logger.addHandler(_StderrLines(logging.WARNING))


def _fail(exc: Exception) -> typer.Exit:
    if _state["debug"]:
        raise exc
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


def _encoder_options(device: str | None, dtype: str | None, batch: int | None) -> dict[str, Any]:
    chosen = {"device": device, "dtype": dtype, "batch_size": batch}
    return {k: v for k, v in chosen.items() if v is not None}


def _resolved(**flags: Any) -> dict[str, config.Setting]:
    """Each setting: the flag, else its ``VSEARCH_*`` variable, the config files, the default."""
    try:
        return config.resolve(flags)
    except VsearchError as exc:
        raise _fail(exc) from None


def _settings(**flags: Any) -> dict[str, Any]:
    """Each setting's value (``vsearch config`` shows where each came from)."""
    return {name: s.value for name, s in _resolved(**flags).items()}


def _loading(settings: dict[str, Any], dtype: str | None = None) -> dict[str, Any]:
    """The encoder options the settings give (device, dtype, batch size)."""
    return _encoder_options(settings["device"], dtype, settings["batch_size"])


WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        metavar="COND",
        help="Filter FIELD OP VALUE, repeatable: kind=image, folder=trips, path=*.png, "
        "date>=2024-05, size<2MB, width>=1000, Make=Canon (OP: = != < <= > >= ~).",
    ),
]
MinScoreOption = Annotated[
    float | None,
    typer.Option("--min-score", metavar="SCORE", help="Drop hits scoring below this cosine."),
]
PathsOption = Annotated[bool, typer.Option("--paths", help="Print only paths, one per line.")]


@app.command(cls=Command)
def query(
    terms: Annotated[
        list[str] | None,
        typer.Argument(
            help="What to look for: words, image paths, or weighted parts joined by + and -, "
            'e.g. "2:golden retriever" + ./pool.jpg - fruit.',
            show_default=False,
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option("--image", metavar="FILE", help="Query image (with text: composed)."),
    ] = None,
    k: CountOption = 10,
    instruction: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="Task instruction placed before the query text."),
    ] = None,
    where: WhereOption = None,
    min_score: MinScoreOption = None,
    route: Annotated[
        str,
        typer.Option(
            "--match",
            metavar="ROUTE",
            help="For a text query: hybrid (by meaning and by its words, fused), semantic "
            "(meaning only) or keyword (its words in the items' text, no model loaded).",
        ),
    ] = "hybrid",
    index: IndexOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    as_json: JsonOption = False,
    paths: PathsOption = False,
    preview: Annotated[
        bool, typer.Option("--preview", help="Show thumbnails inline (kitty, iTerm2, sixel).")
    ] = False,
    no_server: Annotated[
        bool, typer.Option("--no-server", help="Search here even when `vsearch serve` runs.")
    ] = False,
) -> None:
    """Search the index with a text, an image, both (composed), or weighted parts.

    When `vsearch serve` serves the index, the query is sent to it (answered in milliseconds,
    the model already loaded; --image is uploaded); if it cannot answer, it runs here.
    """
    if not terms and image is None:
        raise _fail(ValueError("give a query text, --image FILE, or both"))
    settings = _settings(index=index, device=device)
    folder = settings["index"]
    if route != "hybrid":
        no_server = True  # the server runs every text query by the default route
    if not no_server and all(v is None for v in (model, settings["device"], dtype)):
        answered = cli_serve.query_server(
            folder,
            terms or [],
            image=image,
            k=k,
            instruction=instruction,
            where=where or [],
            min_score=min_score,
        )
        if answered is not None:
            _print_hits(*answered, as_json=as_json, paths=paths)
            _preview(preview and not (as_json or paths), folder, answered[0])
            return
    from vsearch.index import Index
    from vsearch.query import run_query

    try:
        with Index.open(folder, encoder=model, **_loading(settings, dtype)) as idx:
            if len(idx.vectors) == 0:  # loaded for the search anyway; no COUNT(*) of the rows
                raise VsearchError(f"the index at {idx.folder} is empty; run `vsearch ingest`")
            result = run_query(
                idx,
                terms or [],
                image=image,
                k=k,
                instruction=instruction,
                filters=where or [],
                min_score=min_score,
                route=route,
            )
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    _print_hits(result.hits, list(result.records()), as_json=as_json, paths=paths)
    _preview(preview and not (as_json or paths), folder, result.hits)


def _preview(wanted: bool, index: Path, hits: list[Any]) -> None:
    if wanted and hits:
        cli_serve.show_previews(index, hits)


def _print_hits(
    hits: list[Any], records: list[dict[str, Any]], *, as_json: bool, paths: bool
) -> None:
    """Hits as NDJSON ``records``, as paths, or as the rank/score/size/date/path table."""
    if as_json:
        for record in records:
            typer.echo(json.dumps(record))
        return
    if paths:
        for hit in hits:
            typer.echo(printable(hit.abspath))
        return
    if not hits:
        typer.echo("no results: nothing passed the filters and --min-score", err=True)
        return
    typer.echo(f"{'rank':>4}  {'score':>6}  {'size':>8}  {'date':<10}  path")
    for rank, hit in enumerate(hits, 1):
        typer.echo(f"{rank:>4}  {hit.score:6.3f}  {_hit_columns(hit)}")
        if hit.metadata.get("matched"):
            words = ", ".join(printable(w) for w in hit.metadata["matched"])
            typer.echo(f"{'':>14}matched {words}: {printable(hit.metadata['snippet'])}")


def _hit_columns(hit: Any) -> str:
    """size, date (EXIF taken-at, else modification time) and absolute path of a hit."""
    when = hit.metadata.get("taken_at") or datetime.fromtimestamp(hit.metadata["mtime"]).isoformat()
    where = printable(hit.abspath) + anchor_of(hit.path)
    return f"{_human_size(hit.metadata['size']):>8}  {when[:10]:<10}  {where}"


@app.command(cls=Command)
def train(
    config: Annotated[Path, typer.Argument(help="TOML recipe (see train/recipes/).")],
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the run's latest checkpoint.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Fine-tune an encoder contrastively (InfoNCE, GradCache, LoRA/DoRA) as a recipe says."""
    from vsearch.training import run_training

    try:
        result = run_training(str(config), resume=resume)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    skipped = sum(result.data.skipped_rows.values())
    summary = {
        "steps": result.steps,
        "first_loss": result.losses[0] if result.losses else None,
        "last_loss": result.losses[-1] if result.losses else None,
        "output": str(result.output),
        "skipped_rows": skipped,
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    if result.losses:
        typer.echo(
            f"trained {result.steps} steps: loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f}"
        )
    typer.echo(f"model: {result.output}  (use it with --model {result.output})")
    for reason, count in result.data.skipped_rows.most_common():
        typer.echo(f"  skipped {count} row(s): {reason}")


@app.command("eval", cls=Command)
def eval_(
    data: Annotated[list[Path], typer.Argument(help="MMEB-eval .jsonl/.parquet files or folders.")],
    model: ModelOption = None,
    image_root: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Folder the rows' image paths are relative to."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="At most N rows per dataset.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Also write the JSON report here.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as one JSON line (NDJSON).")
    ] = False,
    image_resolution: Annotated[
        str | None,
        typer.Option(
            metavar="POLICY",
            help="VLM2Vec image size: reference (default: 1344x1344 as the paper), "
            "reference-capped (then at most 1280 tokens), aspect (keep shape, faster).",
        ),
    ] = None,
) -> None:
    """Evaluate an encoder on MMEB-eval data: Precision@1 per dataset, meta-task means."""
    from vsearch.eval import render_table, run_eval

    model = _settings(model=model)["model"]
    try:
        report = run_eval(
            data,
            model=model,
            image_root=image_root,
            limit=limit,
            out=out,
            image_resolution=image_resolution,
        )
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(report.to_dict()) if as_json else render_table(report))


@app.command(cls=Command)
def info(index: IndexOption = None, as_json: JsonOption = False) -> None:
    """Show what an index holds and which encoder built it."""
    from vsearch.index import Index

    try:
        with Index.open(_settings(index=index)["index"]) as idx:
            facts = idx.info()
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(facts))
        return
    encoder = facts.pop("encoder")
    facts["folders"] = ", ".join(facts["folders"]) or "none yet"
    for key, value in facts.items():
        typer.echo(f"{key:>14}: {value}")
    typer.echo(f"{'encoder':>14}: {encoder['model_id']} (dim {encoder['dim']})")
    typer.echo(f"{'revision':>14}: {encoder['revision']}")


@app.command(cls=Command)
def tune(
    index: IndexOption = None,
    kind: Annotated[
        str | None,
        typer.Option(
            metavar="KIND",
            help="Index kind: auto (by size), flat (exact), ivf, hnsw, ivfpq.",
        ),
    ] = None,
    recall: Annotated[
        float | None,
        typer.Option(
            metavar="R",
            help="Recall@10 the search settings are tuned to reach, measured on a sample "
            "of the index's own vectors (default 0.95).",
        ),
    ] = None,
    nprobe: Annotated[
        int | None, typer.Option(metavar="N", help="Fixed lists searched (ivf, ivfpq).")
    ] = None,
    ef_search: Annotated[
        int | None, typer.Option(metavar="N", help="Fixed graph search breadth (hnsw).")
    ] = None,
    rerank: Annotated[
        int | None,
        typer.Option(metavar="N", help="Fixed candidates re-ranked per hit (ivfpq)."),
    ] = None,
    auto: Annotated[
        bool, typer.Option("--auto", help="Drop fixed settings: tune to the recall target.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Re-index the vectors with another kind, recall target or fixed search settings.

    Rebuilds the vector index from the stored vectors (no re-encoding) and shows the kind,
    settings and measured recall it chose; they stay with the index for later ingests.
    """
    from vsearch.cli_library import step_progress
    from vsearch.index import Index

    named = {"nprobe": nprobe, "ef_search": ef_search, "rerank": rerank}
    fixed = {name: value for name, value in named.items() if value is not None}
    params = {} if auto else (fixed or None)
    try:
        with Index.open(_settings(index=index)["index"]) as idx:
            facts = idx.tune(kind=kind, recall=recall, params=params, steps=step_progress)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    shown = {key: facts[key] for key in ("vectors", "index_kind", "index_params", "index_recall")}
    if as_json:
        typer.echo(json.dumps(shown))
        return
    for key, value in shown.items():
        typer.echo(f"{key:>14}: {value}")


@app.command(cls=Command)
def models(as_json: JsonOption = False) -> None:
    """List the built-in encoders, the released VLM2Vec checkpoints and the cached models.

    A hub id that is not cached is downloaded on its first use as --model (unless
    HF_HUB_OFFLINE=1), into the standard Hugging Face cache.
    """
    from vsearch.encoders.models import list_models

    entries = list_models()
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry.to_dict()))
        return
    width = max(len(e.name) for e in entries)
    for e in entries:
        where = _human_size(e.size_bytes) if e.size_bytes else ("yes" if e.cached else "-")
        typer.echo(f"{e.name:<{width}}  {e.kind:<8}  {where:>9}  {e.description}".rstrip())


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# The other commands (ingest, folders, watch, config; rank, ground, classify, similar, dupes;
# serve) register themselves on ``app``.
from vsearch import cli_library, cli_serve, cli_tasks  # noqa: E402, F401


def main() -> None:
    # What transformers' ``logging.disable_progress_bar()`` did here, without importing
    # transformers (0.75 s) or the hub (0.04 s): it switches the hub's bars off, and both read
    # this variable when they are first imported, which happens after this line.
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    app()


if __name__ == "__main__":  # python -m vsearch.cli, e.g. under torchrun
    # This file runs as ``__main__``; the command modules register on ``vsearch.cli.app``, a
    # second copy of it, so that one is run.
    from vsearch.cli import main as _run

    _run()
