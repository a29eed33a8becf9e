"""The ``vsearch`` command: a thin shell over the library (parse, call one function, render)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from vsearch import config
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
        "--index", "-i", help="Index folder [env VSEARCH_INDEX; default ./indexes/default]."
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Encoder: a name (label-bridge), a model folder or hub id."),
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
    as_json: JsonOption = False,
) -> None:
    """Index the images (.jpg .png .webp .gif .bmp .tiff .heic .avif) and texts (.txt .md) of a
    folder, and keep the index in sync with it on every rerun."""
    from vsearch.index import Index

    try:
        with Index.open_or_create(
            index or config.default_index_path(),
            encoder=model,
            reindex=reindex,
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
        typer.echo(f"  failed: {path}: {reason}")


@app.command()
def query(
    text: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    image: Annotated[
        Path | None, typer.Option("--image", help="Query image (with text: composed).")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Number of results.")] = 10,
    instruction: Annotated[
        str | None, typer.Option(help="Task instruction placed before the query text.")
    ] = None,
    index: IndexOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search the index with a text, an image, or both."""
    from vsearch.index import Index

    if text is None and image is None:
        raise _fail(ValueError("give a query text, --image FILE, or both"))
    try:
        with Index.open(
            index or config.default_index_path(),
            encoder=model,
            **_encoder_options(device, dtype, None),
        ) as idx:
            hits = idx.search(text, image, k=k, instruction=instruction)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    if as_json:
        for rank, hit in enumerate(hits, 1):
            typer.echo(json.dumps({"rank": rank, **hit.to_dict()}))
        return
    if not hits:
        typer.echo("no results: the index is empty", err=True)
        return
    typer.echo(f"{'rank':>4}  {'score':>6}  {'size':>8}  {'date':<10}  path")
    for rank, hit in enumerate(hits, 1):
        when = (
            hit.metadata.get("taken_at")
            or datetime.fromtimestamp(hit.metadata["mtime"]).isoformat()
        )
        size = _human_size(hit.metadata["size"])
        typer.echo(f"{rank:>4}  {hit.score:6.3f}  {size:>8}  {when[:10]:<10}  {hit.abspath}")


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


def main() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    app()


if __name__ == "__main__":  # python -m vsearch.cli, e.g. under torchrun
    main()
