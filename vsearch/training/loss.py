"""InfoNCE over cosine similarities, with in-batch and explicit hard negatives.

Unlike the VLM2Vec reference trainer, the hard negatives that MMEB-train rows carry are used:
they join the candidate pool of every query in the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(
    query_emb: torch.Tensor,
    target_emb: torch.Tensor,
    negative_emb: torch.Tensor | None = None,
    *,
    temperature: float = 0.02,
    symmetric: bool = False,
) -> torch.Tensor:
    """Contrastive loss: query ``i`` must pick target ``i`` out of all targets and negatives.

    Args:
        query_emb: ``(n, d)`` query embeddings.
        target_emb: ``(n, d)`` positive target of each query (row-aligned).
        negative_emb: ``(m, d)`` hard negatives (any rows' negatives), or None.
        temperature: softmax temperature over cosine similarities.
        symmetric: also average in the target-to-query term (targets pick their query).

    Returns:
        Scalar mean cross-entropy.
    """
    if query_emb.shape != target_emb.shape:
        raise ValueError(
            f"queries {tuple(query_emb.shape)} and targets {tuple(target_emb.shape)} differ"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    query = F.normalize(query_emb.float(), dim=-1)
    target = F.normalize(target_emb.float(), dim=-1)
    candidates = target
    if negative_emb is not None and len(negative_emb):
        candidates = torch.cat([target, F.normalize(negative_emb.float(), dim=-1)])
    labels = torch.arange(len(query), device=query.device)
    loss = F.cross_entropy(query @ candidates.T / temperature, labels)
    if symmetric:
        loss = (loss + F.cross_entropy(target @ query.T / temperature, labels)) / 2
    return loss
