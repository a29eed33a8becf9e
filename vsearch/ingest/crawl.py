"""Walk a folder tree and list the files vsearch can index, with what went wrong on the way."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from vsearch.ingest.chunks import CHUNKED_FROM_BYTES

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif"}
)
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".rst", ".csv", ".json", ".html", ".htm"})
#: Documents become one item per page (``vsearch.ingest.documents``).
DOCUMENT_EXTENSIONS = frozenset({".pdf"})
#: Folder names never entered (hidden folders, starting with ".", are skipped as well).
DEFAULT_EXCLUDED_DIRS = frozenset({".git", "node_modules", "@eaDir", "__pycache__"})


def kind_of(name: str) -> str | None:
    """``"image"``, ``"text"``, ``"document"`` or None (not indexed), from the file name's
    extension."""
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in TEXT_EXTENSIONS:
        return "text"
    if ext in DOCUMENT_EXTENSIONS:
        return "document"
    return None


@dataclass(frozen=True)
class FileEntry:
    relpath: str  # "/"-separated, relative to the root
    kind: str  # kind_of's, or "chunked" for a text too long for one item
    size: int
    mtime_ns: int


@dataclass
class CrawlResult:
    files: list[FileEntry] = field(default_factory=list)
    #: (relpath, reason) for files that exist but cannot be stat'ed (broken links...).
    bad_files: list[tuple[str, str]] = field(default_factory=list)
    #: (relpath, reason) for folders that could not be listed; their items are kept as they are.
    bad_dirs: list[tuple[str, str]] = field(default_factory=list)

    def is_under_bad_dir(self, relpath: str) -> bool:
        """True when ``relpath`` lies in a folder that could not be listed (the root: all)."""
        return any(d == "/" or relpath.startswith(d.rstrip("/") + "/") for d, _ in self.bad_dirs)


def _excluded(relpath: str, name: str, patterns: Sequence[str]) -> bool:
    return any(
        fnmatch.fnmatch(relpath, p) or fnmatch.fnmatch(name, p) or PurePosixPath(relpath).match(p)
        for p in patterns
    )


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in DEFAULT_EXCLUDED_DIRS


def _start(
    root: Path, exclude: Sequence[str], within: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The folders to walk and the single files to look at, for a crawl limited to ``within``
    (paths relative to ``root``); paths under a skipped or excluded folder are dropped."""
    folders, files = [], []
    wanted = set(within)
    for relpath in sorted(wanted):
        parts = PurePosixPath(relpath).parts
        ancestors = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        if any(a in wanted for a in ancestors):
            continue  # walked with its folder
        if any(_skipped_dir(PurePosixPath(a).name) for a in ancestors) or any(
            _excluded(a, PurePosixPath(a).name, exclude) for a in [*ancestors, relpath]
        ):
            continue
        if (root / relpath).is_dir() and not (root / relpath).is_symlink():
            if not _skipped_dir(parts[-1]):
                folders.append(relpath)
        else:
            files.append(relpath)
    return folders, files


def crawl(
    root: Path, exclude: Sequence[str] = (), within: Sequence[str] | None = None
) -> CrawlResult:
    """List indexable files under ``root``; symlinked folders are not followed.

    Args:
        root: the folder to walk.
        exclude: glob patterns matched against each relative path and each name.
        within: only these paths relative to ``root`` (files, or folders walked whole); None:
            everything.
    """
    result = CrawlResult()
    stack, single = ([""], []) if within is None else _start(root, exclude, within)
    for relpath in single:
        _add_file(root, relpath, result)
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(root / rel_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            result.bad_dirs.append((rel_dir + "/", f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            relpath = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if _excluded(relpath, entry.name, exclude):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if not _skipped_dir(entry.name):
                    stack.append(relpath)
                continue
            _add_file(root, relpath, result)
    result.files.sort(key=lambda f: f.relpath)
    return result


def _add_file(root: Path, relpath: str, result: CrawlResult) -> None:
    """Record the file at ``relpath`` if vsearch indexes its kind (or why it cannot)."""
    kind = kind_of(relpath)
    if kind is None:
        return
    path = root / relpath
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            result.bad_files.append((relpath, "broken link"))
        return  # gone (a crawl limited to paths that changed may name deleted files)
    except OSError as exc:
        reason = "broken link" if path.is_symlink() else f"cannot stat: {exc.strerror}"
        result.bad_files.append((relpath, reason))
        return
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block a read, /dev/zero never end
        result.bad_files.append((relpath, "not a regular file (a FIFO, socket or device)"))
        return
    if kind == "text" and st.st_size > CHUNKED_FROM_BYTES:
        kind = "chunked"  # a long text: one item per chunk (vsearch.ingest.parted)
    result.files.append(FileEntry(relpath, kind, st.st_size, st.st_mtime_ns))
