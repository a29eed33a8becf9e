"""One vector for an image that shows text: the image's embedding and its text's, weighted.

For an encoder that does not read text in images (``Encoder.reads_text_in_images`` False, the
default ``mini``), the recognised text of an image (OCR) or a PDF page (its text layer) is
embedded as a text and added to the image's vector; a text query then scores
``IMAGE_WEIGHT * cos(q, image) + TEXT_WEIGHT * cos(q, text)`` before normalisation. The weights
were chosen on bench/bench_ocr.py's fixture (the sweep it prints), with the photo set checked to
stay where it was (photos with too little text are not fused at all).
"""

from __future__ import annotations

import numpy as np

#: Weight of the text's vector against the image's (1 - TEXT_WEIGHT). bench/bench_ocr.py's
#: sweep (220 text-bearing items, semantic route): exact-phrase R@1 0.668 / 0.877 / 0.909 /
#: 0.923 / 0.936 / 0.936 / 0.950 and paraphrase R@1 0.618 / 0.868 / 0.886 / 0.905 / 0.909 /
#: 0.909 / 0.914 at weights 0.3 / 0.5 / 0.6 / 0.7 / 0.8 / 0.9 / 1.0 (R@10 >= 0.995 from 0.5).
#: 0.8 is the smallest weight on the plateau: it keeps a fifth of the picture, which a weight of
#: 1.0 would drop (the fixture asks only for the text, a person may ask for the picture).
TEXT_WEIGHT = 0.8
#: Fewer letters and digits than this are not fused: a photo's stray sign or watermark says
#: little of what it shows, and would pull it away from its picture.
MIN_TEXT_CHARS = 12


def has_enough_text(text: str | None) -> bool:
    return bool(text) and sum(c.isalnum() for c in text) >= MIN_TEXT_CHARS


def fuse(
    image_emb: np.ndarray, text_emb: np.ndarray, text_weight: float = TEXT_WEIGHT
) -> np.ndarray:
    """Weighted sum of unit vectors, normalised again.

    Args:
        image_emb: ``(n, dim)`` float32, unit rows.
        text_emb: ``(n, dim)`` float32, unit rows.
        text_weight: in [0, 1].

    Returns:
        ``(n, dim)`` float32, unit rows.
    """
    fused = (1.0 - text_weight) * image_emb + text_weight * text_emb
    norms = np.linalg.norm(fused, axis=1, keepdims=True)
    return (fused / np.maximum(norms, 1e-12)).astype(np.float32)
