"""The folders an index holds: where they are on disk, and which of them holds a path.

A folder is stored relative to the index folder (so an index moved together with its photos
keeps working) with the globs its ingests skip.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vsearch.errors import VsearchError
from vsearch.store.models import FolderRow


@dataclass(frozen=True)
class Folder:
    """One folder of an index: its row id, its resolved path and its remembered excludes."""

    id: int
    path: Path
    excludes: tuple[str, ...]

    @classmethod
    def from_row(cls, row: FolderRow, index_folder: Path) -> Folder:
        return cls(row.id, (index_folder / row.path).resolve(), tuple(row.excludes or ()))

    def relative(self, path: Path) -> str | None:
        """``path`` (resolved) relative to this folder, "/"-separated; None when outside it."""
        try:
            return path.relative_to(self.path).as_posix()
        except ValueError:
            return None


def stored_path(root: Path, index_folder: Path) -> str:
    """How a folder is recorded: relative to the index folder."""
    return os.path.relpath(root, index_folder.resolve())


def containing(folders: Sequence[Folder], path: Path) -> tuple[Folder, str] | None:
    """The folder holding ``path`` (absolute, resolved) and the path relative to it."""
    for folder in folders:
        rel = folder.relative(path)
        if rel is not None:
            return folder, rel
    return None


def check_new(folders: Sequence[Folder], root: Path) -> None:
    """Refuse a folder that lies inside one the index holds, or holds one of them.

    Raises:
        VsearchError: the two would index the same files twice.
    """
    for folder in folders:
        inside = folder.relative(root) is not None
        if inside or Folder(0, root, ()).relative(folder.path) is not None:
            raise VsearchError(
                f"{root} overlaps {folder.path}, which the index holds already; index the outer "
                "folder only (use --exclude to skip parts of it), or remove the other with "
                f"`vsearch folders remove {folder.path}`"
            )
