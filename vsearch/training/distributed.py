"""Multi-process training under ``torchrun``: every rank sees the global batch as negatives."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_world(device: torch.device) -> World:
    """Join the process group that ``torchrun`` describes in the environment (or stay alone)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(rank=dist.get_rank(), size=dist.get_world_size())


def leave_world(world: World) -> None:
    """Wait for every rank, then close the process group.

    Without it, a rank that finished first (rank 1, which saves nothing) exits while rank 0 still
    saves; rank 0's gloo threads then lose their peer and the process aborts at exit
    ("terminate called without an active exception"), failing the run after a good step.
    """
    if world.size > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def gather_with_grad(local: torch.Tensor, world: World) -> torch.Tensor:
    """All ranks' ``(n_r, d)`` embeddings concatenated in rank order; gradients flow to ``local``.

    Ranks may hold different ``n_r``, zero included: a shard whose rows have no hard negatives
    holds an empty group, which GradCache and the full-batch step give as a 1-D ``zeros(0)``
    (they cannot know ``d`` without embedding something). Every rank shares its row count and
    width first, so all ranks pad to one ``(max n_r, d)`` shape for the collective and trim
    after it; gloo aborts on tensors of different sizes ("Received data size doesn't match").
    """
    if world.size == 1:
        return local
    width = local.shape[1] if local.ndim == 2 else 0
    shape = torch.tensor([len(local), width], dtype=torch.long, device=local.device)
    shapes = [torch.zeros_like(shape) for _ in range(world.size)]
    dist.all_gather(shapes, shape)
    sizes = [int(s[0]) for s in shapes]
    width = max(int(s[1]) for s in shapes)
    if len(local) == 0:
        local = local.reshape(0, width)
    padded = torch.zeros((max(sizes), width), dtype=local.dtype, device=local.device)
    padded[: len(local)] = local.detach()
    gathered = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(gathered, padded)
    pieces = [g[:n] for g, n in zip(gathered, sizes, strict=True)]
    pieces[world.rank] = local
    return torch.cat(pieces)


def shard(items: list, world: World) -> list:
    """This rank's contiguous slice of a global batch (the batch size divides evenly)."""
    per_rank = len(items) // world.size
    return items[world.rank * per_rank : (world.rank + 1) * per_rank]
