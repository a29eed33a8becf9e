"""MMEB-style evaluation: Precision@1 per dataset, unweighted means per meta-task and overall."""

from __future__ import annotations

from vsearch.eval.data import (
    EvalDataset,
    EvalRow,
    item_text,
    load_datasets,
    read_rows,
    split_instruction,
)
from vsearch.eval.report import Aggregate, DatasetResult, EvalReport, render_table
from vsearch.eval.runner import evaluate, run_eval

__all__ = [
    "Aggregate",
    "DatasetResult",
    "EvalDataset",
    "EvalReport",
    "EvalRow",
    "evaluate",
    "item_text",
    "load_datasets",
    "read_rows",
    "render_table",
    "run_eval",
    "split_instruction",
]
