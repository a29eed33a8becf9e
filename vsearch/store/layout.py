"""Where the parts of an index live: its file names, the database URL to open, the lock file,
and the schema name of a new index on a shared database."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from vsearch.errors import StoreError
from vsearch.manifest import Manifest
from vsearch.store import urls
from vsearch.store.metadata import MetadataStore
from vsearch.store.vectors import BASE_NAME

DB_NAME = "metadata.sqlite"
FAISS_NAME = BASE_NAME
STAMP_NAME = "vectors.json"
LOCK_NAME = "ingest.lock"


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{(folder / DB_NAME).resolve()}"


def store_url_to_open(folder: Path, manifest: Manifest, given: str | None) -> str:
    """The URL to open: the manifest's, or the one the user gives again (with its password)."""
    if manifest.store_url is None:
        path = folder / DB_NAME
        if given is not None:
            raise StoreError(f"the index at {folder} keeps its metadata in {path}, not a database")
        if not path.is_file():
            raise StoreError(
                f"{path} is missing: the index at {folder} has lost its metadata; "
                f"re-create it with `vsearch ingest DIR --index {folder}` after moving it away"
            )
        if path.stat().st_size == 0:
            raise StoreError(
                f"{path} is empty (0 bytes): the index at {folder} has lost its metadata; "
                "restore it from a backup, or move the folder away and build it again with "
                "`vsearch ingest`"
            )
        return sqlite_url(folder)
    if given is None:
        return manifest.store_url
    if not urls.same_database(given, manifest.store_url):
        raise StoreError(
            f"the index at {folder} lives in {urls.masked(manifest.store_url)}, not in "
            f"{urls.masked(given)}"
        )
    return given


def writable(folder: Path, url: str) -> bool:
    """Whether this process may write the index folder (and its SQLite file, if it has one).

    A read-only mount answers no for root too; a folder that only lacks permission bits answers
    yes for root, who may write it anyway.
    """
    if not os.access(folder, os.W_OK):
        return False
    database = urls.parse(url).database if urls.is_sqlite(url) else None
    return database is None or not os.path.exists(database) or os.access(database, os.W_OK)


def new_namespace(folder: Path) -> str:
    """A schema name for a new index on a shared database: its folder's name and a random tag."""
    slug = re.sub(r"[^a-z0-9]+", "_", folder.name.lower()).strip("_")[:30] or "index"
    return f"vsearch_{slug}_{secrets.token_hex(4)}"


def lock_path(folder: Path, store: MetadataStore) -> Path:
    """Beside the database when it is a SQLite file outside the folder (several folders may share
    it), else in the index folder."""
    database = store.url.database if store.dialect == "sqlite" else None
    if database and Path(database).resolve().parent != folder.resolve():
        return Path(database + ".lock")
    return folder / LOCK_NAME
