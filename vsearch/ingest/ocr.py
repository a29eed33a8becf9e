"""Text in images: RapidOCR (PP-OCRv6 detection + recognition, ONNX on the CPU) with the models
its wheel ships, so recognition never reaches the network.

Imported only by ingest, and RapidOCR (onnxruntime, OpenCV) only on the first image it reads:
a query never pays for it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

#: Detection reads the image with its longer side at most this (RapidOCR's default scales the
#: *shorter* side up to 736, which costs twice as much on a photo and finds no more text in the
#: benchmark's rendered pages; see bench/bench_ocr.py).
DET_SIDE = 960
#: Lines recognised with less confidence are dropped (RapidOCR's own default threshold).
MIN_SCORE = 0.5
_MODELS = {
    "Det.model_path": "PP-OCRv6_det_small.onnx",
    "Rec.model_path": "PP-OCRv6_rec_small.onnx",
    "Cls.model_path": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}


@dataclass(frozen=True)
class Recognised:
    """The lines read in one image: their text, boxes (4 corner points, pixels of the image
    given) and confidence."""

    lines: list[str] = field(default_factory=list)
    boxes: list[list[list[float]]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def to_json(self) -> list[dict[str, Any]]:
        """What the store keeps per item: one record per line."""
        return [
            {"text": t, "box": [[round(x, 1), round(y, 1)] for x, y in b], "score": round(s, 4)}
            for t, b, s in zip(self.lines, self.boxes, self.scores, strict=True)
        ]


def model_paths() -> dict[str, Path]:
    """The ONNX files inside the installed rapidocr package (no download path is ever taken:
    RapidOCR downloads only when a configured model file is missing)."""
    import rapidocr

    folder = Path(rapidocr.__file__).parent / "models"
    return {key: folder / name for key, name in _MODELS.items()}


def shared_reader() -> Reader:
    """The process's reader (its models load once, on the first image read)."""
    return _SHARED


class Reader:
    """One RapidOCR engine, built on first use, shared by the ingest's worker threads.

    It does not decide which images to read: ingest does (``--ocr``).
    """

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        from rapidocr import RapidOCR

        paths = model_paths()
        missing = [str(p) for p in paths.values() if not p.is_file()]
        if missing:
            from vsearch.errors import VsearchError

            raise VsearchError(
                f"the rapidocr package lacks its models ({', '.join(missing)}); reinstall it "
                "(pip install --force-reinstall rapidocr) or ingest with --no-ocr"
            )
        params: dict[str, Any] = {key: str(path) for key, path in paths.items()}
        params |= {
            "Global.log_level": "error",
            "Global.use_cls": False,  # upside-down text is rare in photos; costs a model run
            "Global.text_score": MIN_SCORE,
            "Det.limit_type": "max",
            "Det.limit_side_len": DET_SIDE,
            "EngineConfig.onnxruntime.intra_op_num_threads": self._threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        return RapidOCR(params=params)

    def read(self, image: Image.Image) -> Recognised:
        """The text lines in ``image`` (RGB), top to bottom as RapidOCR orders them."""
        import numpy as np

        with self._lock:
            if self._engine is None:
                self._engine = self._load()
            engine = self._engine
        result = engine(np.asarray(image.convert("RGB"))[:, :, ::-1])  # OpenCV's BGR order
        if result.txts is None or result.boxes is None:
            return Recognised()
        keep = [i for i, t in enumerate(result.txts) if t.strip()]
        return Recognised(
            [result.txts[i].strip() for i in keep],
            [[[float(x), float(y)] for x, y in result.boxes[i]] for i in keep],
            [float(result.scores[i]) for i in keep],
        )


_SHARED = Reader()
