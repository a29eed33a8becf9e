"""First use of a hub model: download it into the standard Hugging Face cache (resumable).

Only called for a hub id that is not cached yet, and never when ``HF_HUB_OFFLINE`` (or
``TRANSFORMERS_OFFLINE``) is set: then the caller keeps its one-line ``hf download`` hint.
``HF_ENDPOINT`` and ``HF_HOME`` / ``HF_HUB_CACHE`` are read at call time, so a process can point
at a mirror after importing the hub.
"""

from __future__ import annotations

import os
from pathlib import Path

from vsearch.errors import ModelNotFound

_TRUE = {"1", "on", "yes", "true"}
#: Written into a repo's cache folder while vsearch downloads it, removed when it is whole.
MARKER = ".vsearch-downloading"


def hub_offline() -> bool:
    """Whether the user switched the hub off (``HF_HUB_OFFLINE=1`` or ``TRANSFORMERS_OFFLINE``)."""
    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return any((flag or "").strip().lower() in _TRUE for flag in flags)


def repo_folder(repo_id: str, cache_dir: str) -> Path:
    """The hub cache's folder of a model repo (``models--owner--name``)."""
    return Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"


def interrupted(repo_id: str, cache_dir: str) -> bool:
    """Whether a download of ``repo_id`` stopped part-way: vsearch's marker is still there, or
    the hub left half-written ``*.incomplete`` blobs."""
    folder = repo_folder(repo_id, cache_dir)
    blobs = folder / "blobs"
    return (folder / MARKER).exists() or (blobs.is_dir() and any(blobs.glob("*.incomplete")))


def download_snapshot(repo_id: str, cache_dir: str, hint: str) -> Path:
    """Download every file of ``repo_id`` (a progress bar on stderr); returns the snapshot.

    A dropped connection is retried within the run (the hub resumes the file with a ``Range``
    request once it has a 10 MB chunk of it). A killed run leaves the files it finished; the
    next use fetches the rest (huggingface_hub 2.x restarts a file it left half-written).

    Raises:
        ModelNotFound: the hub cannot be reached or has no such repo; the message gives the
            reason in one line and ``hint``.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    from tqdm import tqdm

    endpoint = os.environ.get("HF_ENDPOINT") or None
    marker = repo_folder(repo_id, cache_dir) / MARKER
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        path = snapshot_download(repo_id, cache_dir=cache_dir, endpoint=endpoint, tqdm_class=tqdm)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFound(
            f"model {repo_id!r} is not in the Hugging Face cache ({cache_dir}) and could not be "
            f"downloaded from {endpoint or 'the hub'} ({reason}). {hint}"
        ) from exc
    marker.unlink(missing_ok=True)
    return Path(path)
