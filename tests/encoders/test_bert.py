"""BertEncoder + tokenizers give the embeddings transformers' BertModel gives (shipped MiniLM)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsearch.encoders.sentence import MAX_TOKENS, SentenceModel, bundled_model_dir

TEXTS = [
    "a cat",
    "A photo of a red car parked by the sea.",
    "",
    "word " * 400,  # past MAX_TOKENS: truncated the same way
    "Ünïcödé façade — 東京 🚀",
    "find the red car",
]


@pytest.fixture(scope="module")
def reference() -> tuple[torch.Tensor, np.ndarray]:
    """Token ids and mean-pooled unit embeddings computed with transformers, as
    sentence-transformers does."""
    from transformers import AutoModel, AutoTokenizer

    path = str(bundled_model_dir())
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    batch = tokenizer(
        TEXTS, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    )
    with torch.inference_mode():
        hidden = model.eval()(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return batch["input_ids"], pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_tokens_are_the_transformers_tokenizers(reference):
    ids, _ = reference
    model = SentenceModel()
    for text, expected in zip(TEXTS, ids, strict=True):
        got = model.tokenizer.encode(text).ids
        assert got == [int(t) for t in expected[: len(got)]]
        assert all(int(t) == 0 for t in expected[len(got) :])  # the rest is padding


def test_embeddings_match_bert_model(reference):
    _, expected = reference
    got = SentenceModel().embed(TEXTS, batch_size=4)  # two batches, each padded differently
    assert got.shape == (len(TEXTS), 384)
    assert np.abs(got - expected).max() < 1e-5
    assert (got * expected).sum(1).min() > 0.99999


def test_an_unsupported_checkpoint_is_refused(tmp_path):
    import json

    from vsearch.encoders.bert import BertEncoder

    config = json.loads((bundled_model_dir() / "config.json").read_text())
    with pytest.raises(ValueError, match="relative_key"):
        BertEncoder({**config, "position_embedding_type": "relative_key"})
