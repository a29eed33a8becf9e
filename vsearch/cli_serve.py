"""``vsearch serve``, and what ``vsearch query`` does with a running server and ``--preview``.

Registered on the app like the task commands. The query helpers import only the standard
library until a preview needs Pillow, so a query answered by a server starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from vsearch import config
from vsearch.cli import (
    Command,
    DeviceOption,
    DtypeOption,
    ModelOption,
    _encoder_options,
    _fail,
    app,
)
from vsearch.errors import VsearchError


def query_server(
    index: Path,
    terms: Sequence[str],
    *,
    image: Path | None,
    k: int,
    instruction: str | None,
    where: Sequence[str],
    min_score: float | None,
) -> tuple[list[Any], list[dict[str, Any]]] | None:
    """``(hits, records)`` of a query from the server serving ``index``, or None."""
    from vsearch.serve.client import hit_from_record, remote_query

    records = remote_query(
        index, terms, k=k, image=image, instruction=instruction, where=where, min_score=min_score
    )
    if records is None:
        return None
    return [hit_from_record(r) for r in records], records


def show_previews(index: Path, hits: Sequence[Any]) -> None:
    """Each image hit's thumbnail inline, under its rank and path; or one line saying why not."""
    from vsearch.preview import detect, inline_image

    protocol, reason = detect(os.environ, sys.stdout.isatty())
    if protocol is None:
        typer.echo(f"--preview: no inline images ({reason}); showing paths only", err=True)
        return
    from vsearch.serve.thumbnails import thumbnail

    folder = Path(index).expanduser()
    for rank, hit in enumerate(hits, 1):
        if hit.kind != "image":
            continue
        try:
            thumb = thumbnail(folder, hit.abspath, str(hit.metadata.get("content_hash", "")))
        except (VsearchError, ValueError, OSError) as exc:
            typer.echo(f"--preview: {hit.path}: {exc}", err=True)
            continue
        typer.echo(f"{rank:>4}  {hit.path}")
        sys.stdout.write(inline_image(thumb.read(), protocol))
    sys.stdout.flush()


ServeIndexOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--index",
        "-i",
        help="Index folder to serve, repeatable (default: env VSEARCH_INDEX or ./indexes/default).",
    ),
]


@app.command(cls=Command)
def serve(
    index: ServeIndexOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; other than loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(envvar="VSEARCH_TOKEN", help="Secret every request must carry."),
    ] = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
) -> None:
    """A web page and JSON API over the index(es), the model loaded once (see /docs)."""
    from vsearch.serve.runner import ServerHandle, check_exposure, is_loopback, open_indexes
    from vsearch.serve.state import ServerState

    folders = index or [config.default_index_path()]
    try:
        check_exposure(host, token)
        if not is_loopback(host):
            typer.echo(
                f"warning: --host {host} serves the index to other machines, over plain HTTP; "
                "every request must carry the token",
                err=True,
            )
        typer.echo(f"loading {', '.join(str(f) for f in folders)} ...", err=True)
        options = _encoder_options(device, dtype, None)
        state = ServerState(open_indexes(folders, model=model, **options), token=token)
        handle = ServerHandle(state, host, port)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    page = f"{handle.url}/" + (f"?token={token}" if token else "")
    names = ", ".join(state.served)
    typer.echo(f"serving {names} at {page}  (API docs: {handle.url}/docs; Ctrl-C stops)")
    handle.run()
