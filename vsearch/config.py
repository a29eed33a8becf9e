"""Where vsearch keeps things: environment variables and their defaults."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_INDEX_NAME = "default"


def home() -> Path:
    """``VSEARCH_HOME`` or ``~/.cache/vsearch``: caches that can always be rebuilt."""
    return Path(os.environ.get("VSEARCH_HOME") or Path.home() / ".cache" / "vsearch")


def default_index_path() -> Path:
    """``VSEARCH_INDEX`` or ``./indexes/default``."""
    return Path(os.environ.get("VSEARCH_INDEX") or Path("indexes") / DEFAULT_INDEX_NAME)
