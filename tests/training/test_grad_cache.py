from __future__ import annotations

import copy

import pytest
import torch

from vsearch.encoders.base import Item
from vsearch.training.grad_cache import GradCache, full_batch_step
from vsearch.training.loss import info_nce

from .tiny import TinyEncoderModule, colour_image


def batch(n: int, with_negatives: bool):
    queries = [Item(text=f"find colour {i} please") for i in range(n)]
    targets = [
        Item(image=colour_image((20 * i % 256, 7 * i % 256, 255 - 9 * i % 256))) for i in range(n)
    ]
    negatives = (
        [Item(text=f"wrong {i}", image=colour_image((i, 0, 0))) for i in range(n)]
        if with_negatives
        else []
    )
    return [queries, targets, negatives]


def loss_fn(reps):
    query, target, negative = reps
    return info_nce(query, target, negative if len(negative) else None, temperature=0.05)


def grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("with_negatives", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 3, 16])
def test_grad_cache_equals_a_full_batch_step(with_negatives, chunk_size):
    torch.manual_seed(0)
    model = TinyEncoderModule()
    twin = copy.deepcopy(model)
    groups = batch(10, with_negatives)
    full_loss = full_batch_step(model, loss_fn, groups)
    cached_loss = GradCache(twin, loss_fn, chunk_size)(groups)
    assert cached_loss.item() == pytest.approx(full_loss.item(), abs=1e-6)
    expected, got = grads(model), grads(twin)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-5, rtol=1e-4)


def test_dropout_masks_are_replayed():
    torch.manual_seed(0)
    model = TinyEncoderModule(dropout=0.5).train()
    seen = []

    def encode(chunk):
        reps = model(chunk)
        seen.append(reps.detach().clone())
        return reps

    groups = batch(4, False)
    GradCache(encode, loss_fn, chunk_size=2)(groups)
    no_grad_pass, re_forward = seen[:4], seen[4:]
    for a, b in zip(no_grad_pass, re_forward, strict=True):
        torch.testing.assert_close(a, b)


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="chunk_size"):
        GradCache(lambda c: c, loss_fn, 0)


def test_info_nce_prefers_the_aligned_pairs():
    q = torch.eye(4)
    assert info_nce(q, q).item() < info_nce(q, q.flip(0)).item()
    assert info_nce(q, q, q[:1]).item() > info_nce(q, q).item()  # a hard negative only adds
    assert info_nce(q, q, symmetric=True).item() == pytest.approx(info_nce(q, q).item())
    with pytest.raises(ValueError, match="temperature"):
        info_nce(q, q, temperature=0)
