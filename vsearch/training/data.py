"""MMEB-train data: rows ``{qry, qry_image_path, pos_text, pos_image_path, neg_text,
neg_image_path}`` in JSONL or Parquet, several datasets mixed by weight, read into Items.

Missing or unreadable images are counted and reported (``DataReport``), never fatal: the row is
skipped, or its negative dropped when only the negative is bad.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsearch.encoders.base import Item
from vsearch.errors import UnsupportedInput
from vsearch.ingest.decode import decode_image, read_bytes
from vsearch.training.config import DatasetConfig

IMAGE_PLACEHOLDER = "<|image_1|>"
FIELDS = ("qry", "qry_image_path", "pos_text", "pos_image_path", "neg_text", "neg_image_path")


@dataclass(frozen=True)
class TrainRow:
    dataset: str
    qry: str
    qry_image_path: str
    pos_text: str
    pos_image_path: str
    neg_text: str = ""
    neg_image_path: str = ""
    image_root: str = ""

    @property
    def has_negative(self) -> bool:
        return bool(self.neg_text or self.neg_image_path)


@dataclass
class DataReport:
    """What could not be read, by reason."""

    skipped_rows: Counter[str] = field(default_factory=Counter)
    dropped_negatives: Counter[str] = field(default_factory=Counter)


def read_rows(dataset: DatasetConfig) -> list[TrainRow]:
    """Every row of one dataset file (JSONL or Parquet), capped as configured."""
    path = Path(dataset.path)
    if not path.is_file():
        raise ValueError(f"dataset file {path} does not exist")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError(
                f"{path}: reading Parquet needs pyarrow (pip install pyarrow)"
            ) from None
        raw = pq.read_table(path).to_pylist()
    else:
        with path.open(encoding="utf-8") as f:
            raw = [json.loads(line) for line in f if line.strip()]
    name = dataset.name or path.stem
    rows = [_row(r, name, dataset.image_root, path, i) for i, r in enumerate(raw)]
    return rows[: dataset.cap] if dataset.cap else rows


def _row(raw: dict[str, Any], name: str, image_root: str, path: Path, index: int) -> TrainRow:
    missing = [f for f in ("qry", "pos_text") if f not in raw]
    if missing:
        raise ValueError(f"{path} row {index + 1} has no {missing[0]!r} field")
    values = {f: raw.get(f) or "" for f in FIELDS}
    return TrainRow(dataset=name, image_root=image_root, **values)


def mix(datasets: list[list[TrainRow]], weights: list[float], seed: int) -> list[TrainRow]:
    """One epoch's order: each dataset contributes round(weight x rows) rows, all shuffled."""
    rng = random.Random(seed)
    epoch: list[TrainRow] = []
    for rows, weight in zip(datasets, weights, strict=True):
        if not rows:
            continue
        copies, rest = divmod(round(weight * len(rows)), len(rows))
        epoch.extend(rows * copies)
        epoch.extend(rng.sample(rows, rest))
    rng.shuffle(epoch)
    return epoch


class RowReader:
    """Turns rows into (query, target, negative) Items, loading images from the image root."""

    def __init__(self, max_image_side: int = 1024, *, verbatim: bool = False) -> None:
        self.max_image_side = max_image_side
        self.verbatim = verbatim
        self.report = DataReport()

    def item(self, text: str, image_path: str, image_root: str) -> Item | None:
        # The image travels as Item.image. A model that reads MMEB strings verbatim (VLM2Vec)
        # gets the text exactly as written, placeholder and newlines included, as the
        # reference and ``vsearch eval`` embed it; the others get it without the placeholder.
        if not self.verbatim:
            text = text.replace(IMAGE_PLACEHOLDER + "\n", "").replace(IMAGE_PLACEHOLDER, "")
        image = None
        if image_path:
            try:
                data = read_bytes(Path(image_root) / image_path)
                image = decode_image(data, max_side=self.max_image_side).item.image
            except UnsupportedInput as exc:
                raise _BadImage(f"{image_path}: {exc}") from exc
        if image is None and not text.strip():
            return None
        return Item(image=image, text=text if text.strip() else None)

    def read(self, row: TrainRow) -> tuple[Item, Item, Item | None] | None:
        try:
            query = self.item(row.qry, row.qry_image_path, row.image_root)
            target = self.item(row.pos_text, row.pos_image_path, row.image_root)
        except _BadImage as exc:
            self.report.skipped_rows[str(exc)] += 1
            return None
        if query is None or target is None:
            self.report.skipped_rows[f"{row.dataset}: empty query or target"] += 1
            return None
        negative = None
        if row.has_negative:
            try:
                negative = self.item(row.neg_text, row.neg_image_path, row.image_root)
            except _BadImage as exc:
                self.report.dropped_negatives[str(exc)] += 1
        return query, target, negative


class _BadImage(Exception):
    pass
