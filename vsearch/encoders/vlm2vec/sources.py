"""Where a VLM2Vec model's files are: a local directory or the Hugging Face cache.

A hub id that is not cached is downloaded into the cache on first use (``download``), unless
``HF_HUB_OFFLINE`` is set; nothing else here touches the network. A spec is one of:

- ``/models/VLM2Vec-LLaVa-Next``: a directory holding a full checkpoint;
- ``TIGER-Lab/VLM2Vec-Full``: a hub id (downloaded into the Hugging Face cache if needed);
- ``/models/VLM2Vec-Qwen2VL-2B``: a PEFT adapter directory (``adapter_config.json``); its base
  is the ``base_model_name_or_path`` it records, looked up the same way;
- ``BASE+ADAPTER``: an explicit base (directory or cached hub id) plus an adapter.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vsearch.encoders.vlm2vec.download import download_snapshot, hub_offline, interrupted
from vsearch.errors import ModelNotFound

ADAPTER_SEPARATOR = "+"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_SMALL_FILES = (
    "config.json",
    "adapter_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
)
_CHUNK = 64 * 1024
_CHUNKS_PER_FILE = 32


@dataclass(frozen=True)
class ModelSource:
    """The resolved files of one model.

    Attributes:
        model_id: a stable human name: the hub id, or a directory's name; ``base+adapter`` for
            adapter checkpoints.
        model_dir: directory of the full (base) checkpoint.
        adapter_dir: directory of a PEFT adapter to merge into it, or None.
    """

    model_id: str
    model_dir: Path
    adapter_dir: Path | None = None

    def revision(self) -> str:
        """A fingerprint that changes when the weights, config or tokenizer change.

        Hashes the small JSON files whole and, for every weight file, its size plus 32 evenly
        spaced 64 KiB samples (the first one holds the safetensors header with every tensor's
        name, dtype and shape). Fine-tuning changes nearly every weight, so the samples catch
        it, while a copy of the files to another disk or machine keeps the same revision
        (mtimes are deliberately not used). Reads about 2 MiB a weight file.
        """
        digest = hashlib.sha256()
        for root in (self.model_dir, self.adapter_dir):
            if root is not None:
                _hash_tree(root, digest)
        return digest.hexdigest()[:16]


def resolve(spec: str) -> ModelSource:
    """Find the files a spec names, on disk only.

    Raises:
        ModelNotFound: nothing on disk matches; the message says what to download and how.
    """
    path = Path(spec).expanduser()
    if ADAPTER_SEPARATOR in spec and not path.exists():
        base_spec, adapter_spec = spec.rsplit(ADAPTER_SEPARATOR, 1)
        try:
            base_id, base_dir = _locate(base_spec)
            adapter_id, adapter_dir = _locate(adapter_spec)
        except ModelNotFound as exc:
            raise ModelNotFound(f"{exc} (--model {spec!r} read as BASE+ADAPTER)") from None
        if not (adapter_dir / "adapter_config.json").is_file():
            raise ModelNotFound(
                f"{adapter_spec!r} (after '+' in --model {spec!r}) is not a PEFT adapter: "
                f"{adapter_dir} has no adapter_config.json"
            )
        return ModelSource(f"{base_id}+{adapter_id}", base_dir, adapter_dir)
    model_id, model_dir = _locate(spec)
    adapter_config = model_dir / "adapter_config.json"
    if not adapter_config.is_file():
        _require_weights(model_id, model_dir)
        return ModelSource(model_id, model_dir)
    base_spec = json.loads(adapter_config.read_text()).get("base_model_name_or_path")
    if not base_spec:
        raise ModelNotFound(
            f"adapter {spec!r} does not name its base model; pass --model BASE+{spec}"
        )
    try:
        base_id, base_dir = _locate(base_spec)
    except ModelNotFound as exc:
        raise ModelNotFound(
            f"adapter {spec!r} needs its base model {base_spec!r}, which is not on disk. "
            f"{_download_hint(base_spec)}, or pass --model /path/to/base+{spec}"
        ) from exc
    _require_weights(base_id, base_dir)
    return ModelSource(f"{base_id}+{model_id}", base_dir, model_dir)


def _locate(spec: str) -> tuple[str, Path]:
    """``(model_id, directory)`` for a directory path or a hub id in the local cache."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
            raise ModelNotFound(
                f"{path} is not a model directory: it has no config.json or adapter_config.json"
            )
        return path.resolve().name, path.resolve()
    if path.exists():
        raise ModelNotFound(f"--model {spec!r} is a file; give the model's directory")
    if not _HUB_ID.match(spec):
        raise ModelNotFound(
            f"no model directory at {spec!r}; --model takes a registered model name, a model "
            "directory, a hub id (owner/name) in the Hugging Face cache, or BASE+ADAPTER"
        )
    cached = _cached_snapshot(spec)
    if (cached is None or interrupted(spec, cache_dir())) and not hub_offline():
        cached = download_snapshot(spec, cache_dir(), _download_hint(spec))
    if cached is None:
        raise ModelNotFound(
            f"model {spec!r} is neither a directory nor in the Hugging Face cache "
            f"({cache_dir()}). {_download_hint(spec)}"
        )
    return spec, cached


def _cached_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot directory of a hub repo, without any network access."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, cache_dir=cache_dir(), local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError):
        return None


def cache_dir() -> str:
    """The hub cache, with ``HF_HUB_CACHE``/``HF_HOME`` read now, not at import time."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return str(constants.HF_HUB_CACHE)


def _download_hint(repo_id: str) -> str:
    return (
        f"On a machine with internet, run `hf download {repo_id}` and copy the Hugging Face "
        f"cache here, or `hf download {repo_id} --local-dir DIR` and pass --model DIR"
    )


def _require_weights(model_id: str, directory: Path) -> None:
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in directory.iterdir()):
        raise ModelNotFound(
            f"model {model_id!r} at {directory} has a config but no weight files "
            f"(*.safetensors or *.bin); the download is incomplete. {_download_hint(model_id)}"
        )


def _hash_tree(root: Path, digest: hashlib._Hash) -> None:
    for path in sorted(root.iterdir()):
        if path.name in _SMALL_FILES:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        elif path.suffix in _WEIGHT_SUFFIXES:
            digest.update(path.name.encode() + b"\0")
            _hash_sampled(path, digest)


def _hash_sampled(path: Path, digest: hashlib._Hash) -> None:
    size = path.stat().st_size
    digest.update(str(size).encode())
    step = max(_CHUNK, (size - _CHUNK) // max(1, _CHUNKS_PER_FILE - 1))
    with path.open("rb") as f:
        for offset in range(0, max(1, size), step):
            f.seek(offset)
            digest.update(f.read(_CHUNK))
