"""What ``vsearch models`` lists: the built-in encoders, the released VLM2Vec checkpoints and
every model in the local Hugging Face cache. Reads the cache only; never the network."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: The released VLM2Vec checkpoints (TIGER-AI-Lab/VLM2Vec README), hub id -> what it is.
VLM2VEC_CHECKPOINTS: dict[str, str] = {
    "TIGER-Lab/VLM2Vec-Full": "Phi-3.5-V, full model (remote code)",
    "TIGER-Lab/VLM2Vec-LLaVa-Next": "LLaVA-1.6 Mistral-7B, full model",
    "TIGER-Lab/VLM2Vec-Qwen2VL-2B": "DoRA adapter on Qwen/Qwen2-VL-2B-Instruct",
    "TIGER-Lab/VLM2Vec-Qwen2VL-7B": "DoRA adapter on Qwen/Qwen2-VL-7B-Instruct",
    "VLM2Vec/VLM2Vec-V2.0": "adapter on Qwen/Qwen2-VL-2B-Instruct (images, video, documents)",
}


@dataclass(frozen=True)
class ModelEntry:
    """One line of ``vsearch models``.

    Attributes:
        name: what ``--model`` takes.
        kind: ``built-in`` (ships with vsearch), ``vlm2vec`` (a released checkpoint) or
            ``cached`` (another model in the Hugging Face cache).
        cached: whether its weights are on this machine.
        size_bytes: bytes in the cache (0 when not cached or built in).
        description: one line.
    """

    name: str
    kind: str
    cached: bool
    size_bytes: int
    description: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_models() -> list[ModelEntry]:
    """Built-in encoders, then released VLM2Vec checkpoints, then the rest of the cache."""
    from vsearch.encoders.registry import names

    cached = _cached_repos()
    entries = [ModelEntry(n, "built-in", True, 0, _BUILT_IN.get(n, "")) for n in names()]
    for repo_id, about in VLM2VEC_CHECKPOINTS.items():
        size = cached.pop(repo_id, None)
        entries.append(ModelEntry(repo_id, "vlm2vec", size is not None, size or 0, about))
    entries += [ModelEntry(r, "cached", True, s, "") for r, s in sorted(cached.items())]
    return entries


_BUILT_IN = {
    "mini": "the default: a small VLM2Vec-style model trained by vsearch (CPU)",
    "label-bridge": "ImageNet classes x sentence embeddings, no training (CPU)",
}


def _cached_repos() -> dict[str, int]:
    """Model repos in the hub cache with at least one snapshot -> bytes on disk."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    from vsearch.encoders.vlm2vec.sources import cache_dir

    try:
        info = scan_cache_dir(cache_dir())
    except CacheNotFound:
        return {}
    return {
        repo.repo_id: repo.size_on_disk
        for repo in info.repos
        if repo.repo_type == "model" and repo.revisions
    }
