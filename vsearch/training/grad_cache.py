"""GradCache (Gao et al., 2021, arXiv 2101.06983): a large contrastive batch in bounded memory.

The three phases, named as in the paper: ``forward_no_grad`` embeds every chunk without a graph,
``build_cache`` computes the loss over the whole batch and its gradient with respect to each
embedding, ``forward_backward`` re-embeds chunk by chunk with a graph and back-propagates the
cached gradient. Each chunk's RNG state is replayed, so dropout draws the same masks twice.
The result equals one full-batch step (up to float error) while only one chunk's activations
are alive at a time. Unlike the reference trainer, it runs on one device as well.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

EncodeFn = Callable[[Sequence[Any]], torch.Tensor]
LossFn = Callable[[list[torch.Tensor]], torch.Tensor]


class RandomState:
    """The CPU and CUDA RNG states at one moment, to replay a forward pass exactly."""

    def __init__(self) -> None:
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    @contextlib.contextmanager
    def replay(self):
        devices = list(range(torch.cuda.device_count())) if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state_all(self.cuda)
            yield


class GradCache:
    """One optimisation step's gradients for a contrastive loss over groups of inputs.

    Args:
        encode: inputs of one chunk -> ``(len(chunk), d)`` embeddings, with a graph.
        loss_fn: the list of every group's ``(n_g, d)`` embeddings -> scalar loss.
        chunk_size: inputs per re-forward; memory grows with this, not with the batch.
        backward_scale: multiplies the gradient (the world size under DDP, which averages).

    It does not step the optimiser, clip, or zero gradients: the training loop does.
    """

    def __init__(
        self,
        encode: EncodeFn,
        loss_fn: LossFn,
        chunk_size: int,
        *,
        backward_scale: float = 1.0,
        no_sync: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.encode, self.loss_fn, self.chunk_size = encode, loss_fn, chunk_size
        self.backward_scale = backward_scale
        self.no_sync = no_sync or contextlib.nullcontext

    def _chunks(self, inputs: Sequence[Any]) -> list[Sequence[Any]]:
        return [inputs[i : i + self.chunk_size] for i in range(0, len(inputs), self.chunk_size)]

    def forward_no_grad(
        self, groups: Sequence[Sequence[Any]]
    ) -> tuple[list[torch.Tensor], list[list[RandomState]]]:
        """Embed every chunk without a graph; remember each chunk's RNG state."""
        reps, states = [], []
        with torch.no_grad():
            for inputs in groups:
                group_states, group_reps = [], []
                for chunk in self._chunks(inputs):
                    group_states.append(RandomState())
                    group_reps.append(self.encode(chunk))
                states.append(group_states)
                reps.append(torch.cat(group_reps) if group_reps else torch.zeros(0))
        return reps, states

    def build_cache(self, reps: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The loss over the whole batch and its gradient with respect to every embedding."""
        leaves = [r.detach().requires_grad_(r.numel() > 0) for r in reps]
        loss = self.loss_fn(leaves)
        (loss * self.backward_scale).backward()
        grads = [leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for leaf in leaves]
        return loss.detach(), grads

    def forward_backward(
        self,
        groups: Sequence[Sequence[Any]],
        states: list[list[RandomState]],
        grads: list[torch.Tensor],
    ) -> None:
        """Re-embed chunk by chunk with a graph and back-propagate the cached gradients."""
        pieces = [
            (chunk, state, grad)
            for inputs, group_states, group_grad in zip(groups, states, grads, strict=True)
            if len(inputs)
            for chunk, state, grad in zip(
                self._chunks(inputs),
                group_states,
                group_grad.split(self.chunk_size),
                strict=True,
            )
        ]
        for index, (chunk, state, grad) in enumerate(pieces):
            last = index == len(pieces) - 1
            with contextlib.nullcontext() if last else self.no_sync(), state.replay():
                surrogate = (self.encode(chunk) * grad.to(torch.float32)).sum()
                surrogate.backward()

    def __call__(self, groups: Sequence[Sequence[Any]]) -> torch.Tensor:
        """Accumulate one step's gradients into the parameters; returns the (detached) loss."""
        reps, states = self.forward_no_grad(groups)
        loss, grads = self.build_cache(reps)
        self.forward_backward(groups, states, grads)
        return loss


def full_batch_step(
    encode: EncodeFn,
    loss_fn: LossFn,
    groups: Sequence[Sequence[Any]],
    *,
    backward_scale: float = 1.0,
) -> torch.Tensor:
    """The same step without GradCache: every group embedded at once with a graph."""
    reps = [encode(inputs) if len(inputs) else torch.zeros(0) for inputs in groups]
    loss = loss_fn(reps)
    (loss * backward_scale).backward()
    return loss.detach()
