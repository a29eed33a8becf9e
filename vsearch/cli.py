"""The ``vsearch`` command: a thin shell over the library (parse, call one function, render)."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from vsearch import config
from vsearch.display import printable
from vsearch.errors import VsearchError

app = typer.Typer(
    help="Multimodal vector search: ingest a folder, then query it with text and images.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_state = {"debug": False}

IndexOption = Annotated[
    Path | None,
    typer.Option(
        "--index", "-i", help="Index folder (default: $VSEARCH_INDEX, else ./indexes/default)."
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Encoder: a name (mini, label-bridge), a model folder or hub id."
    ),
]
DeviceOption = Annotated[str | None, typer.Option(help="Encoder device: cpu, cuda, cuda:1.")]
DtypeOption = Annotated[str | None, typer.Option(help="Encoder dtype: float32, bfloat16.")]
BatchOption = Annotated[int | None, typer.Option("--batch-size", help="Items per encoder call.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine output (NDJSON) on stdout.")]


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
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


class _TqdmProgress:
    """Ingest progress on stderr, with items/s."""

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="item", desc="encoding", file=sys.stderr, leave=False)

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def finish(self) -> None:
        self.bar.close()


@app.command()
def ingest(
    folder: Annotated[
        Path | None, typer.Argument(help="Folder to index; default: the one the index holds.")
    ] = None,
    index: IndexOption = None,
    model: ModelOption = None,
    reindex: Annotated[
        bool, typer.Option(help="Re-embed every item (after a model change).")
    ] = False,
    exclude: Annotated[
        list[str] | None,
        typer.Option("--exclude", "-x", help="Glob of paths to skip (repeatable)."),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Decode threads.")] = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    batch_size: BatchOption = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="VSEARCH_STORE_URL",
            show_envvar=False,
            help="Database for the metadata of a new index, e.g. postgresql://user@host/db "
            "(each index gets its own schema; the password is never saved: give it again here, "
            "or in PGPASSWORD or ~/.pgpass). Default: metadata.sqlite in the index folder.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Index a folder's images and texts (.txt .md) and keep the index in sync with it.

    Images: .jpg .png .webp .gif .bmp .tiff .heic .avif. Rerun it to pick up new, changed,
    moved and deleted files; files it cannot read are listed with a reason.
    """
    from vsearch.index import Index

    try:
        with Index.open_or_create(
            index or config.default_index_path(),
            encoder=model,
            reindex=reindex,
            store_url=store,
            **_encoder_options(device, dtype, batch_size),
        ) as idx:
            report = idx.ingest(
                folder, exclude=tuple(exclude or ()), workers=workers, progress=_TqdmProgress()
            )
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    typer.echo(
        f"added {report.added}, updated {report.updated}, moved {report.moved}, "
        f"removed {report.removed}, unchanged {report.unchanged}, failed {len(report.failed)} "
        f"({report.encoded} encoded, {report.reused} reused, {report.seconds:.1f} s)"
    )
    for path, reason in report.failed:
        typer.echo(f"  failed: {printable(path)}: {reason}")


WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        help="Filter FIELD OP VALUE, repeatable: kind=image, folder=trips, path=*.png, "
        "date>=2024-05, size<2MB, width>=1000, Make=Canon (OP: = != < <= > >= ~).",
    ),
]
MinScoreOption = Annotated[
    float | None, typer.Option("--min-score", help="Drop hits scoring below this cosine.")
]
PathsOption = Annotated[bool, typer.Option("--paths", help="Print only paths, one per line.")]


@app.command()
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
        str | None, typer.Option("--image", help="Query image (with text: composed).")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    instruction: Annotated[
        str | None, typer.Option(help="Task instruction placed before the query text.")
    ] = None,
    where: WhereOption = None,
    min_score: MinScoreOption = None,
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
    folder = index or config.default_index_path()
    if not no_server and all(v is None for v in (model, device, dtype)):
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
        with Index.open(
            folder,
            encoder=model,
            **_encoder_options(device, dtype, None),
        ) as idx:
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


def _hit_columns(hit: Any) -> str:
    """size, date (EXIF taken-at, else modification time) and absolute path of a hit."""
    when = hit.metadata.get("taken_at") or datetime.fromtimestamp(hit.metadata["mtime"]).isoformat()
    return f"{_human_size(hit.metadata['size']):>8}  {when[:10]:<10}  {printable(hit.abspath)}"


@app.command()
def train(
    config: Annotated[Path, typer.Argument(help="TOML recipe (see train/recipes/).")],
    resume: Annotated[
        bool, typer.Option(help="Continue from the run's latest checkpoint.")
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


@app.command("eval")
def eval_(
    data: Annotated[list[Path], typer.Argument(help="MMEB-eval .jsonl/.parquet files or folders.")],
    model: ModelOption = None,
    image_root: Annotated[
        Path | None, typer.Option(help="Folder the rows' image paths are relative to.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N rows per dataset.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Evaluate an encoder on MMEB-eval data: Precision@1 per dataset, meta-task means."""
    from vsearch.eval import render_table, run_eval

    try:
        report = run_eval(data, model=model, image_root=image_root, limit=limit, out=out)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else render_table(report))


@app.command()
def info(index: IndexOption = None, as_json: JsonOption = False) -> None:
    """Show what an index holds and which encoder built it."""
    from vsearch.index import Index

    try:
        with Index.open(index or config.default_index_path()) as idx:
            facts = idx.info()
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(facts))
        return
    encoder = facts.pop("encoder")
    for key, value in facts.items():
        typer.echo(f"{key:>14}: {value}")
    typer.echo(f"{'encoder':>14}: {encoder['model_id']} (dim {encoder['dim']})")
    typer.echo(f"{'revision':>14}: {encoder['revision']}")


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


# The task commands (rank, ground, classify, similar, dupes) and serve register themselves.
from vsearch import cli_serve, cli_tasks  # noqa: E402, F401


def main() -> None:
    # What transformers' ``logging.disable_progress_bar()`` did here, without importing
    # transformers (0.75 s) or the hub (0.04 s): it switches the hub's bars off, and both read
    # this variable when they are first imported, which happens after this line.
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    app()


if __name__ == "__main__":  # python -m vsearch.cli, e.g. under torchrun
    main()
