"""Contrastive fine-tuning of vsearch encoders: InfoNCE, GradCache, LoRA/DoRA, DDP."""

from __future__ import annotations

from vsearch.training.config import DatasetConfig, ModelConfig, RunConfig, TrainConfig
from vsearch.training.grad_cache import GradCache
from vsearch.training.loop import Trainer, TrainResult
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
    return Trainer(config, model, progress=progress).train(resume=resume)
