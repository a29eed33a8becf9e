"""VLM2Vec pooling: the final hidden state of each row's last real token, L2-normalised."""

from __future__ import annotations

import torch


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The hidden state of the last non-padding token of every row.

    Works for left padding, right padding and a mix of both: the position is found per row as
    the last 1 of its attention mask, which is what the reference computes in either of its two
    branches (``[:, -1]`` under left padding, ``mask.sum(1) - 1`` under right padding).

    Args:
        hidden: ``(n, L, d)`` final-layer hidden states, any float dtype.
        attention_mask: ``(n, L)`` 1 for real tokens, 0 for padding; every row has a 1.

    Returns:
        ``(n, d)`` in ``hidden``'s dtype.
    """
    if not bool(attention_mask.any(dim=1).all()):
        raise ValueError("a row of the batch has no real token")
    length = attention_mask.shape[1]
    last = length - 1 - attention_mask.flip(dims=[1]).long().argmax(dim=1)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return hidden[rows, last.to(hidden.device)]


def normalize(reps: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm, computed in float32. ``(n, d)`` -> ``(n, d)`` float32."""
    return torch.nn.functional.normalize(reps.float(), p=2, dim=-1)
