"""Contrastive fine-tuning of vsearch encoders: InfoNCE, GradCache, LoRA/DoRA, DDP."""

from __future__ import annotations

from vsearch.training.config import DatasetConfig, ModelConfig, RunConfig, TrainConfig
from vsearch.training.grad_cache import GradCache
from vsearch.training.loop import EvalHook, Trainer, TrainResult
from vsearch.training.loss import info_nce
from vsearch.training.model import TrainableModel, build_trainable, register_trainable

__all__ = [
    "DatasetConfig",
    "GradCache",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "TrainResult",
    "TrainableModel",
    "Trainer",
    "build_trainable",
    "info_nce",
    "register_trainable",
    "run_training",
]


def run_training(config_path: str, *, resume: bool = False, progress: bool = True) -> TrainResult:
    """Fine-tune the encoder a TOML config names (``vsearch train CONFIG``).

    Returns:
        The steps run, every step's loss, the final artefact's folder and the data report.
    """
    import torch

    from vsearch.training.loop import resolve_device

    config = RunConfig.load(config_path)
    device = resolve_device(config.train.device)
    torch.manual_seed(config.train.seed)  # adapter initialisation is part of the recipe
    model = build_trainable(config.model, str(device))
    hook = mmeb_eval_hook(config) if config.train.eval_data else None
    return Trainer(config, model, eval_hook=hook, progress=progress).train(resume=resume)


def mmeb_eval_hook(config: RunConfig) -> EvalHook:
    """Score the model in training on ``[train] eval_data`` with the MMEB evaluation harness.

    The model's ``encoder`` (an Encoder view of the weights being trained) is evaluated with
    the embedding cache off: its identity does not change while its weights do.
    """
    from pathlib import Path

    from vsearch.eval import evaluate, load_datasets

    datasets = load_datasets(
        [Path(p) for p in config.train.eval_data], limit=config.train.eval_limit or None
    )

    def hook(model: TrainableModel, step: int) -> dict[str, float]:
        encoder = getattr(model, "encoder", None)
        if encoder is None:
            raise ValueError("this model has no encoder view to evaluate")
        model.module.eval()
        report = evaluate(encoder, datasets, use_cache=False)
        metrics = {f"eval_{d.name}_p@1": d.precision_at_1 for d in report.datasets}
        if report.overall is not None:
            metrics["eval_overall_p@1"] = report.overall.precision_at_1
        return metrics

    return hook
