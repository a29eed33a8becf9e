"""The library commands: ingest, folders, watch and config (thin, like the rest of the CLI)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from vsearch import config
from vsearch.cli import (
    BatchOption,
    Command,
    DeviceOption,
    DtypeOption,
    IndexOption,
    JsonOption,
    ModelOption,
    _fail,
    _loading,
    _resolved,
    _settings,
    app,
)
from vsearch.display import printable
from vsearch.errors import VsearchError

FoldersArgument = Annotated[
    list[Path] | None,
    typer.Argument(
        help="Folders to index (added to the index if new); none: every folder it holds.",
        show_default=False,
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        "-x",
        metavar="GLOB",
        help="Glob of paths to skip (repeatable), remembered for the named folders; "
        "-x '' clears them. The config file's exclude applies to every folder.",
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="Database for the metadata of a new index, e.g. postgresql://user@host/db "
        "(each index gets its own schema; the password is never saved: give it again here, "
        "or in PGPASSWORD or ~/.pgpass) [env VSEARCH_STORE_URL; default: metadata.sqlite in "
        "the index folder].",
    ),
]
WorkersOption = Annotated[int | None, typer.Option(metavar="N", help="Decode threads.")]
RayOption = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="Decode and encode on a Ray cluster (one encoder per GPU, else per CPU), writing "
        "the index here: the cluster in RAY_ADDRESS, else a new local one. The folders must be "
        "at the same path on every machine. Needs pip install 'vsearch[ray]'.",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        metavar="ADDRESS",
        help="The Ray cluster for --ray (implies it), e.g. ray://head:10001 or auto.",
        show_default=False,
    ),
]


class _TqdmProgress:
    """A step's progress on stderr, with items/s; redrawn every half second, so a step that
    cannot count (building the vector index) still shows its time; ``delay``: hidden until the
    step has taken that long."""

    def __init__(self, desc: str = "encoding", delay: float = 0.0) -> None:
        self.desc, self.delay = desc, delay

    def start(self, total: int) -> None:
        from tqdm import tqdm

        unit = "item" if total > 1 else "step"
        self.bar = tqdm(
            total=total, unit=unit, desc=self.desc, file=sys.stderr, leave=False, delay=self.delay
        )
        self.done = threading.Event()
        threading.Thread(target=self._redraw, daemon=True).start()

    def _redraw(self) -> None:
        while not self.done.wait(0.5):
            if time.time() - self.bar.start_t >= self.delay:
                self.bar.refresh()

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def finish(self) -> None:
        self.done.set()
        self.bar.close()


def step_progress(name: str) -> _TqdmProgress:
    """The progress of a step besides encoding, shown once it takes over a second."""
    return _TqdmProgress(name, delay=1.0)


def _open_for_writing(
    flags: dict[str, Any], reindex: bool = False, dtype: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """The index the settings name (created with the configured model and store if new), and
    the settings.

    A store URL from a config file is used for new indexes only; one given as ``--store`` or in
    ``VSEARCH_STORE_URL`` is also given again to an existing index (with its password).
    """
    from vsearch.index import Index

    resolved = _resolved(**flags)
    settings = {name: s.value for name, s in resolved.items()}
    store = resolved["store"]
    index = Index.open_or_create(
        settings["index"],
        encoder=flags["model"],
        create_with=settings["model"],
        reindex=reindex,
        store_url=store.value if store.source in ("--store", store_env()) else None,
        create_store_url=store.value,
        **_loading(settings, dtype),
    )
    return index, settings


def store_env() -> str:
    return config.SETTINGS["store"].env


def _report_line(report: Any) -> str:
    return (
        f"added {report.added}, updated {report.updated}, moved {report.moved}, "
        f"removed {report.removed}, unchanged {report.unchanged}, failed {len(report.failed)} "
        f"({report.encoded} encoded, {report.reused} reused, {report.seconds:.1f} s)"
    )


@app.command(cls=Command)
def ingest(
    folders: FoldersArgument = None,
    index: IndexOption = None,
    model: ModelOption = None,
    reindex: Annotated[
        bool, typer.Option("--reindex", help="Re-embed every item (after a model change).")
    ] = False,
    exclude: ExcludeOption = None,
    workers: WorkersOption = None,
    device: DeviceOption = None,
    dtype: DtypeOption = None,
    batch_size: BatchOption = None,
    store: StoreOption = None,
    ocr: Annotated[
        bool | None,
        typer.Option(
            "--ocr/--no-ocr",
            help="Read the text in images too (OCR, 1-2 s an image on a CPU), so a query "
            "finds screenshots and scans by their words; --no-ocr: not even in scanned PDF "
            "pages (default: those only).",
            show_default=False,
        ),
    ] = None,
    ray: RayOption = False,
    ray_address: RayAddressOption = None,
    as_json: JsonOption = False,
) -> None:
    """Index folders' images, PDFs (one item per page) and texts, and keep the index in sync.

    Images: .jpg .png .webp .gif .bmp .tiff .heic .avif; texts: .txt .md .rst .csv .json .html.
    Rerun it to pick up new, changed, moved and deleted files; files it cannot read are listed
    with a reason.
    """
    flags = {"index": index, "model": model, "device": device, "batch_size": batch_size}
    try:
        idx, settings = _open_for_writing({**flags, "store": store}, reindex, dtype)
        with idx:
            report = idx.ingest(
                folders or None,
                exclude=exclude,
                also_exclude=settings["exclude"],
                workers=workers,
                ocr=ocr,
                progress=_TqdmProgress(),
                steps=step_progress,
                ray=ray_address or ray,
            )
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report.to_dict()))
        return
    typer.echo(_report_line(report))
    for path, reason in report.failed:
        typer.echo(f"  failed: {printable(path)}: {reason}")


folders_app = typer.Typer(
    help="List the folders an index holds, or remove one.",
    rich_markup_mode=None,
    invoke_without_command=True,
)
app.add_typer(folders_app, name="folders")


@folders_app.callback()
def folders_list(
    ctx: typer.Context, index: IndexOption = None, as_json: JsonOption = False
) -> None:
    """The folders the index holds: items indexed, remembered excludes, path."""
    if ctx.invoked_subcommand is not None:
        return
    from vsearch.index import Index

    try:
        with Index.open(_settings(index=index)["index"]) as idx:
            held = idx.folders()
            counts = idx.store.folder_counts()
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    for folder in held:
        record = {
            "path": str(folder.path),
            "items": counts.get(folder.id, 0),
            "exclude": list(folder.excludes),
        }
        if as_json:
            typer.echo(json.dumps(record))
            continue
        skipped = f"  (exclude: {', '.join(folder.excludes)})" if folder.excludes else ""
        typer.echo(f"{record['items']:>8}  {printable(str(folder.path))}{skipped}")
    if not held and not as_json:
        typer.echo("no folders yet: run `vsearch ingest FOLDER`", err=True)


@folders_app.command("remove", cls=Command)
def folders_remove(
    folder: Annotated[Path, typer.Argument(help="A folder the index holds.")],
    index: IndexOption = None,
) -> None:
    """Forget a folder: its items and vectors leave the index (the files stay)."""
    from vsearch.index import Index

    try:
        with Index.open(_settings(index=index)["index"]) as idx:
            removed = idx.remove_folder(folder)
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None
    typer.echo(f"removed {printable(str(folder))} and its {removed} items from the index")


@app.command(cls=Command)
def watch(
    folders: FoldersArgument = None,
    index: IndexOption = None,
    model: ModelOption = None,
    exclude: ExcludeOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    store: StoreOption = None,
) -> None:
    """Keep the index in sync while files change, until Ctrl-C.

    Syncs first (as ingest does), then re-syncs the paths that changed, a batch of changes at
    a time: each batch is committed as ingest commits, so stopping it at any moment loses
    nothing. Another command that writes to the index waits for the batch in progress.
    """
    from vsearch.watch import watch_index

    flags = {"index": index, "model": model, "device": device, "batch_size": batch_size}
    try:
        idx, settings = _open_for_writing({**flags, "store": store})
        with idx:
            first = idx.ingest(folders or None, exclude=exclude, also_exclude=settings["exclude"])
            typer.echo(_report_line(first), err=True)
            shown = ", ".join(printable(str(f.path)) for f in idx.folders())
            typer.echo(f"watching {shown} (Ctrl-C stops)", err=True)
            watch_index(
                idx,
                also_exclude=settings["exclude"],
                on_sync=lambda report: typer.echo(_report_line(report), err=True),
            )
    except KeyboardInterrupt:
        return
    except (VsearchError, ValueError) as exc:
        raise _fail(exc) from None


@app.command("config", cls=Command)
def config_show(
    index: IndexOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    batch_size: BatchOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show each setting, its value and where it came from (flag, environment, file, default).

    Settings are read from config.toml in the user config folder and in the index folder
    (which wins for that index); keys: index, model, device, batch_size, exclude, store.
    """
    settings = _resolved(index=index, model=model, device=device, batch_size=batch_size)
    if not as_json:
        typer.echo(f"user config file: {config.user_config_file()}")
    for name, setting in settings.items():
        value = setting.value
        shown = str(value) if isinstance(value, Path) else value
        if as_json:
            typer.echo(json.dumps({"setting": name, "value": shown, "source": setting.source}))
        else:
            text = "(not set)" if value in (None, []) else shown
            typer.echo(f"{name:>10} = {text}  ({setting.source})")
