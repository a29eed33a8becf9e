"""Evaluation results: per-dataset numbers, MMEB's meta-task and overall means, JSON and table.

MMEB aggregates without weights: a meta-task's score is the mean of its datasets' scores and the
overall score is the mean over all datasets (not over meta-tasks). Numbers are percentages.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vsearch.atomic import write_text
from vsearch.eval.data import META_TASKS


@dataclass(frozen=True)
class DatasetResult:
    """One dataset's numbers; scores are percentages in [0, 100].

    ``precision_at_1`` and ``recall_at_5`` give ties to the gold, as the reference does;
    ``precision_at_1_strict`` counts them against it (``vsearch.eval.metrics``).
    """

    name: str
    meta_task: str | None
    n_queries: int
    n_candidates: float  # mean candidates per query
    precision_at_1: float
    recall_at_5: float
    embedded: int  # inputs this run had to embed
    cached: int  # inputs found in the embedding cache
    precision_at_1_strict: float | None = None


@dataclass(frozen=True)
class Aggregate:
    """An unweighted mean over ``n_datasets`` datasets; percentages."""

    precision_at_1: float
    recall_at_5: float
    n_datasets: int
    precision_at_1_strict: float | None = None


@dataclass(frozen=True)
class EvalReport:
    """Everything an evaluation run measured, with the identity of the model it measured."""

    model: dict[str, Any]
    datasets: list[DatasetResult]
    meta_tasks: dict[str, Aggregate] = field(default_factory=dict)
    overall: Aggregate | None = None
    limit: int | None = None

    @property
    def embedded(self) -> int:
        return sum(d.embedded for d in self.datasets)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["unit"] = "percent"
        out["tie_rule"] = (
            "ties go to the gold candidate (reference argmax); precision_at_1_strict counts "
            "them against it"
        )
        return out

    def write_json(self, path: Path) -> None:
        """Write ``to_dict()`` as indented JSON, creating the folder."""
        write_text(Path(path), json.dumps(self.to_dict(), indent=2) + "\n")


def aggregate(results: list[DatasetResult]) -> tuple[dict[str, Aggregate], Aggregate | None]:
    """Unweighted means per meta-task (those with datasets, in MMEB order) and overall.

    Returns:
        ``({meta_task: Aggregate}, overall)``; overall is None when ``results`` is empty.
    """
    per_task = {
        task: _mean([r for r in results if r.meta_task == task])
        for task in META_TASKS
        if any(r.meta_task == task for r in results)
    }
    return per_task, (_mean(results) if results else None)


def _mean(results: list[DatasetResult]) -> Aggregate:
    n = len(results)
    strict = [r.precision_at_1_strict for r in results]
    return Aggregate(
        precision_at_1=sum(r.precision_at_1 for r in results) / n,
        recall_at_5=sum(r.recall_at_5 for r in results) / n,
        n_datasets=n,
        precision_at_1_strict=None if None in strict else sum(strict) / n,
    )


def render_table(report: EvalReport) -> str:
    """A plain-text table: one line per dataset, then meta-task means and overall.

    ``P@1`` gives ties to the gold (the reference's rule); ``strict`` counts them against it.

    Returns:
        The table as lines joined by newlines, without a trailing newline.
    """
    labels = [f"{t} ({a.n_datasets})" for t, a in report.meta_tasks.items()]
    if report.overall is not None:
        labels.append(f"Overall ({report.overall.n_datasets})")
    width = max([len(d.name) for d in report.datasets] + [len(x) for x in labels] + [7])
    head = (
        f"{'dataset':<{width}}  {'meta-task':<14}  {'queries':>7}  {'P@1':>6}  {'strict':>6}  "
        f"{'R@5':>6}"
    )
    lines = [
        f"model: {report.model.get('model_id')} ({report.model.get('revision')})",
        head,
        "-" * len(head),
    ]
    for d in report.datasets:
        lines.append(f"{d.name:<{width}}  {d.meta_task or '-':<14}  {d.n_queries:>7}  {_scores(d)}")
    lines.append("-" * len(head))
    means = [(f"{t} ({a.n_datasets})", a) for t, a in report.meta_tasks.items()]
    if report.overall is not None:
        means.append((f"Overall ({report.overall.n_datasets})", report.overall))
    for label, agg in means:
        lines.append(f"{label:<{width}}  {'mean':<14}  {'':>7}  {_scores(agg)}")
    return "\n".join(lines)


def _scores(row: DatasetResult | Aggregate) -> str:
    strict = "-" if row.precision_at_1_strict is None else f"{row.precision_at_1_strict:.1f}"
    return f"{row.precision_at_1:>6.1f}  {strict:>6}  {row.recall_at_5:>6.1f}"
